"""mutmut, one module at a time, each against only the tests that cover it; prints the kill rate.

    .venv/bin/python tests/mutants/run.py [MODULE ...] [--list] [-v] [--jobs N] [--score-only]
    .venv/bin/python tests/mutants/run.py tui --sample 400 [--seed 14] [--survivors] --jobs 2

MODULE is a key of MODULES (default: all). Each module runs in its own copy of the checkout,
/tmp/bptraf-mutmut/<module>/, with a pyproject.toml whose [tool.mutmut] names just that module's files
and tests, so a mutant runs the tests that can see it and no others (mutmut narrows that further to
the tests that call the mutated function). The copy stays for `--score-only` and `-v` (survivors with
their diffs); a later run on the same module only reruns what changed. mutmut runs under `nice -n 10`.
`--sample N` runs and scores N mutants drawn uniformly at random with a fixed seed (the TUI's 2,736
take hours); with `--survivors`, only the sample's survivors run again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("BPTRAF_MUTMUT_DIR", "/tmp/bptraf-mutmut"))

# The fast tests that need no root, by what they cover.
PURE = ["tests/test_rates.py", "tests/test_sampler.py", "tests/test_writers.py", "tests/test_tx_output.py"]
# The TUI's Pilot, snapshot and pure tests; not test_tui_e2e/test_tui_hangup (a real bptraf in tmux or a
# pty, seconds each). Every test_tui_*.py file added later joins by itself.
TUI_SLOW = {"tests/test_tui_e2e.py", "tests/test_tui_hangup.py"}
TUI = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_tui*.py") if str(p.relative_to(ROOT)) not in TUI_SLOW
) + [  # the TUI tests that live beside the feature they show (the rest of those files needs root)
    "tests/test_replay.py::test_the_tui_replays_with_pause_step_and_speed",
    "tests/test_flows_bidir.py::test_tui_rows_are_conversations_sorted_by_each_direction",
    "tests/test_flows_bidir.py::test_tui_without_tx_has_no_sent_column_and_no_one_way_orders",
    "tests/test_flows_bidir.py::test_tui_conversation_rows_fit_80_columns",
    "tests/test_flows_bidir.py::test_both_ways_columns_keep_whole_ipv4_endpoints_at_80",
]
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "sampler": (["bptraf/sampler.py"], ["tests/test_sampler.py", "tests/test_writers.py", "tests/test_flow_rows.py"]),
    "rates": (["bptraf/rates.py"], PURE),
    "writers": (
        ["bptraf/writers.py"],
        [
            "tests/test_writers.py",
            "tests/test_tx_output.py",
            "tests/test_contract_units.py",
            "tests/test_writers_edges.py",
        ],
    ),
    "flows": (["bptraf/flows.py"], ["tests/test_flows.py", "tests/test_writers.py", "tests/test_flow_rows.py"]),
    "flowtable": (
        ["bptraf/flowtable.py"],
        ["tests/test_flows.py", "tests/test_flow_rows.py", "tests/test_flowtable.py"],
    ),
    "flowarray": (
        ["bptraf/flowarray.py"],
        ["tests/test_flows.py", "tests/test_flow_rows.py", "tests/test_flowtable.py"],
    ),
    "source": (["bptraf/source.py"], ["tests/test_source.py", "tests/test_sampler.py", "tests/test_cli.py"]),
    "units": (["bptraf/units.py"], ["tests/test_units.py", "tests/test_writers.py"]),
    "tui": (["bptraf/tui/*"], TUI),
    # The TUI in three parts, each a run of its own (its Pilot tests are the slowest of the fast set).
    "tui-widgets": (["bptraf/tui/widgets/*"], TUI),
    "tui-core": (
        [
            "bptraf/tui/board.py",
            "bptraf/tui/feed.py",
            "bptraf/tui/keys.py",
            "bptraf/tui/panel.py",
            "bptraf/tui/help.py",
            "bptraf/tui/sysinfo.py",
        ],
        TUI,
    ),  # fmt: skip
    "tui-app": (["bptraf/tui/app.py", "bptraf/tui/actions.py", "bptraf/tui/driver.py", "bptraf/tui/start.py"], TUI),
}


def tree_copy(dest: Path) -> None:
    """The checkout's tracked and new files (no .venv, build output or caches; tests/mutants/ is ignored
    by .gitignore's mutants/ but tracked)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for name in listed.stdout.split():
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def config(files: list[str], tests: list[str]) -> str:
    """The copy's pyproject.toml tail: this module's files and tests only."""
    tests = [t for t in tests if (ROOT / t.partition("::")[0]).exists()]
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["bptraf/"]\n'
        f"only_mutate = {json.dumps(files)}\n"
        'also_copy = ["kernel/"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        # A mutant's wall-clock limit is (its tests' time + constant) x multiplier: mutmut's 15x gave a
        # hung TUI mutant 4.5 minutes; 5x still leaves a loaded machine room.
        "timeout_multiplier = 5.0\n"
        "timeout_constant = 2.0\n"
    )


def prepare(module: str, without: list[str]) -> Path:
    files, tests = MODULES[module]
    tests = [t for t in tests if t not in without]
    work = WORK / module
    if work.exists():  # keep mutmut's results (mutants/), refresh everything else
        for child in work.iterdir():
            if child.name != "mutants":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    work.mkdir(parents=True, exist_ok=True)
    tree_copy(work)
    for name in without:  # a "before" score: the tree as it was without these test files
        (work / name).unlink(missing_ok=True)
    py = work / "pyproject.toml"
    text = py.read_text()
    if "[tool.mutmut]" in text:  # drop the checkout's own section: this copy gets its own
        head, _, tail = text.partition("[tool.mutmut]")
        rest = tail.split("\n[", 1)
        text = head + ("[" + rest[1] if len(rest) > 1 else "")
    py.write_text(text + config(files, tests))
    return work


# mutmut's exit codes that mean a test caught the mutant: a failure, pytest's internal error, a timeout.
KILLED = {1, 3, 36, -24, 24, 152, 255}


def results(work: Path) -> dict[str, int | None]:
    """mutant name -> mutmut's exit code for it (None: not run)."""
    out: dict[str, int | None] = {}
    for meta in (work / "mutants").rglob("*.meta"):
        out.update(json.loads(meta.read_text()).get("exit_code_by_key", {}))
    return out


def ledger(module: str) -> dict[str, int | None]:
    """Every result so far, kept beside mutmut's own: mutmut forgets all its verdicts when the list of
    test files changes (a new test file), but a mutant a test killed stays killed when tests are added.
    A verdict is kept with its function's hash (where mutmut records one) and dropped once that hash changes."""
    path = WORK / f"{module}.ledger.json"
    stats = WORK / module / "mutants" / "mutmut-stats.json"
    hashes = json.loads(stats.read_text()).get("function_hashes", {}) if stats.exists() else {}
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept = {n: v if isinstance(v, list) else [v, None] for n, v in kept.items()}  # plain codes: no hash yet
    out: dict[str, list] = {}
    for name, code in results(WORK / module).items():
        now = hashes.get(name.partition("__mutmut_")[0])
        old = kept.get(name)
        if code is not None or old is None or (old[1] and now and old[1] != now):
            out[name] = [code, now]
        else:
            out[name] = old
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=0, sort_keys=True))
    return {name: code for name, (code, _) in out.items()}


def sample(module: str, n: int, seed: int) -> list[str]:
    """n mutant names drawn uniformly without replacement from all of the module's mutants (sorted by
    name, then random.Random(seed).sample): the same names each time while the code is unchanged."""
    names = sorted(ledger(module))
    if not names:  # mutmut has not generated this module's mutants yet: a run that matches none does it
        prepare(module, [])
        run_mutmut(module, ["no-such-mutant"], 1)
        names = sorted(ledger(module))
    return sorted(random.Random(seed).sample(names, min(n, len(names))))


def run_mutmut(module: str, names: list[str], jobs: int) -> None:
    mutmut = Path(sys.executable).parent / "mutmut"
    cmd = ["nice", "-n", "10", str(mutmut), "run", "--max-children", str(jobs), *names]
    subprocess.run(cmd, cwd=WORK / module)


def score(module: str, verbose: bool, only: list[str] | None = None) -> tuple[int, int]:
    """Print the module's kill rate over the mutants run so far (a partial run says how many are left);
    with `only`, over those mutants alone (a sample)."""
    work = WORK / module
    codes = ledger(module)
    if only is not None:
        codes = {n: codes.get(n) for n in only}
    ran = {n: c for n, c in codes.items() if c is not None}
    killed = [n for n, c in ran.items() if c in KILLED]
    left = sorted(n for n in ran if n not in killed)
    pct = 100 * len(killed) / max(len(ran), 1)
    todo = f", {len(codes) - len(ran)} not run yet" if len(ran) < len(codes) else ""
    what = f" (a sample of {len(only)})" if only is not None else ""
    print(f"{module}{what}: {len(killed)}/{len(ran)} killed ({pct:.1f}%){todo}", flush=True)
    for name in left:
        status = {0: "survived", 5: "no tests", 33: "no tests"}.get(ran[name], f"exit {ran[name]}")
        print(f"  {status}: {name}")
        if verbose:
            diff = subprocess.run(
                [sys.executable, "-m", "mutmut", "show", name], cwd=work, capture_output=True, text=True
            )
            print("    " + diff.stdout.strip().replace("\n", "\n    "))
    return len(killed), len(ran)


def survivors(module: str, only: list[str] | None = None) -> list[str]:
    codes = ledger(module)
    return sorted(n for n, c in codes.items() if c is not None and c not in KILLED and (only is None or n in only))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", default=list(MODULES))
    ap.add_argument("--jobs", type=int, default=1, help="mutmut's --max-children (default 1: a shared machine)")
    ap.add_argument("--score-only", action="store_true", help="print the last run's score, run nothing")
    ap.add_argument("--without", default="", help="test files to leave out (a 'before' score)")
    ap.add_argument("--survivors", action="store_true", help="rerun only the last run's survivors (after new tests)")
    ap.add_argument("--only", default="", help="mutant names or fnmatch patterns to run (a sample: '*__mutmut_*7')")
    ap.add_argument("--sample", type=int, default=0, help="run and score N mutants drawn at random (see --seed)")
    ap.add_argument("--seed", type=int, default=14, help="the --sample draw's seed (default 14)")
    ap.add_argument("--list", action="store_true", help="list the modules and their tests")
    ap.add_argument("-v", action="store_true", help="show each survivor's diff")
    args = ap.parse_args()
    if args.list:
        for name, (files, tests) in MODULES.items():
            print(f"{name}: {' '.join(files)} <- {' '.join(tests)}")
        return 0
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        ap.error(f"unknown module(s): {' '.join(sorted(unknown))}")
    total = [0, 0]
    for module in args.modules:
        drawn = sample(module, args.sample, args.seed) if args.sample else None
        if not args.score_only:
            names = survivors(module, drawn) if args.survivors else drawn or args.only.split()
            if args.survivors and not names:
                print(f"{module}: no survivors to rerun")
            else:
                prepare(module, args.without.split())
                run_mutmut(module, names, args.jobs)
        k, n = score(module, args.v, drawn)
        total[0] += k
        total[1] += n
    print(f"all: {total[0]}/{total[1]} killed ({100 * total[0] / max(total[1], 1):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
