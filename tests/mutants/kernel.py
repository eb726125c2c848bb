"""Kernel mutation testing: realistic one-line bugs put into a copy of kernel/, each run against the
real-XDP tests (CI=true); a mutant that no test fails on is a hole in the tests.

    sudo .venv/bin/python tests/mutants/kernel.py [-k SUBSTRING] [--tests 'tests/test_xdp.py ...']

Each mutant is (file, find, replace, what): `find` must occur exactly once in the file. The copy of
the tree gets bptraf/kernel -> ../kernel, so both the tests and `python -m bptraf` load the mutated C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MUTANTS: list[tuple[str, str, str, str]] = [
    # The IPv6 extension-header walk.
    ("parse.h", "#define BPTRAF_IPV6_EXT_MAX 6", "#define BPTRAF_IPV6_EXT_MAX 3", "walk stops after 3 headers"),
    ("parse.h", "#define BPTRAF_IPV6_EXT_MAX 6", "#define BPTRAF_IPV6_EXT_MAX 5", "walk stops after 5 headers"),
    ("parse.h", "#define BPTRAF_IPV6_EXT_MAX 6", "#define BPTRAF_IPV6_EXT_MAX 7", "walk goes on to a 7th header"),
    ("parse.h", "\t\tcur += (ext->hdrlen + 1) * 8;", "\t\tcur += 8;", "extension length ignored"),
    ("parse.h", " && nh != BPTRAF_IPPROTO_ROUTING", "", "routing header not walked"),
    ("parse.h", "nh != BPTRAF_IPPROTO_DSTOPTS", "nh != BPTRAF_IPPROTO_HOPOPTS", "dest. options not walked"),
    (
        "parse.h",
        "\t/* The last header's claimed length may run past the frame. */\n\tif (cur > end)\n\t\treturn BPTRAF_TRUNCATED;\n",
        "",
        "last extension header's length not checked",
    ),  # fmt: skip
    # Fragments: ports only from a first fragment.
    (
        "parse.h",
        "\t*l4 = ip->frag_off & bpf_htons(0x1fff) ? NULL : l3 + ihl * 4;",
        "\t*l4 = l3 + ihl * 4;",
        "IPv4 ports read from non-first fragments",
    ),  # fmt: skip
    ("parse.h", "bpf_htons(0x1fff)", "bpf_htons(0x3fff)", "IPv4 MF flag taken for a non-first fragment"),
    ("parse.h", "bpf_htons(0x1fff)", "bpf_htons(0x1ff0)", "IPv4 low offset bits ignored"),
    ("parse.h", "if (*(__be16 *)(cur + 2) & bpf_htons(0xfff8))", "if (0)", "IPv6 ports read from non-first fragments"),
    ("parse.h", "bpf_htons(0xfff8)", "bpf_htons(0xffff)", "IPv6 M flag taken for a non-first fragment"),
    # IPv4 header checks.
    ("parse.h", "(ihl < 5 || l3 + ihl * 4 > end)", "(ihl < 5)", "IPv4 options not bounds-checked"),
    ("parse.h", "(ihl < 5 || l3 + ihl * 4 > end)", "(ihl < 3 || l3 + ihl * 4 > end)", "short IHL accepted"),
    # Classes.
    (
        "parse.h",
        "add(s, v6 ? BPTRAF_C_IPV6 : BPTRAF_C_IPV4, pkts, len);",
        "add(s, v6 ? BPTRAF_C_IPV4 : BPTRAF_C_IPV6, pkts, len);",
        "IPv4 and IPv6 swapped",
    ),  # fmt: skip
    ("parse.h", "\tcase BPTRAF_IPPROTO_SCTP:\treturn BPTRAF_C_SCTP;\n", "", "SCTP lands in other L4"),
    ("parse.h", "\tcase BPTRAF_ETH_P_PPP_SES:\n", "", "PPPoE session lands in other L3"),
    ("parse.h", "\tif (l3 > end) {", "\tif (l3 >= end) {", "a bare Ethernet header taken as no ethertype"),
    ("parse.h", "\tfor (int i = 0; i < 2; i++) {", "\tfor (int i = 0; i < 1; i++) {", "only one VLAN tag"),
    ("parse.h", "\tfor (int i = 0; i < 2; i++) {", "\tfor (int i = 0; i < 3; i++) {", "three VLAN tags"),
    ("parse.h", " && proto != bpf_htons(BPTRAF_ETH_P_8021AD)", "", "802.1ad tags not stripped"),
    (
        "parse.h",
        "\tif (l3 != (void *)(eth + 1) || hw_vlan)\n\t\tadd(s, BPTRAF_C_VLAN, pkts, len);\n",
        "",
        "vlan flag never counted",
    ),
    (
        "parse.h",
        "#define BPTRAF_BUCKET(max) + (len > max)",
        "#define BPTRAF_BUCKET(max) + (len >= max)",
        "size bucket bounds off by one",
    ),  # fmt: skip
    ("parse.h", "\tif (features & BPTRAF_FLOWS_ON)\n", "\tif (features & BPTRAF_SIZES_ON)\n", "flows follow --sizes"),
    # Flows: the key.
    (
        "count.c",
        "\t\tkey.slot = slot;\n\t\tkey.dir = 0;\n\t\ttrack_key((__u64 *)&key, 2,",
        "\t\tkey.dir = 0;\n\t\ttrack_key((__u64 *)&key, 2,",
        "IPv4 flows of every interface land on the first",
    ),  # fmt: skip
    ("count.c", " || proto == BPTRAF_IPPROTO_SCTP)", ")", "SCTP ports not read"),
    (
        "count.c",
        "\t\tsport = *(__be16 *)(tx ? l4 + 2 : l4);\n\t\tdport = *(__be16 *)(tx ? l4 : l4 + 2);",
        "\t\tsport = *(__be16 *)(tx ? l4 : l4 + 2);\n\t\tdport = *(__be16 *)(tx ? l4 + 2 : l4);",
        "ports swapped",
    ),  # fmt: skip
    (
        "count.c",
        "\t\tkey.dst = ip->daddr;\n\t\tif (tx)",
        "\t\tkey.dst = ip->saddr;\n\t\tif (tx)",
        "IPv4 destination taken from the source",
    ),  # fmt: skip
    ("count.c", "\t\t\tk[4 + i] = dst[i];", "\t\t\tk[4 + i] = src[i];", "IPv6 destination taken from the source"),
    # Flows: the table's probe, claim and counts.
    (
        "count.c",
        "\t\t__sync_fetch_and_add(&f->bytes, len);",
        "\t\t__sync_fetch_and_add(&f->bytes, 64);",
        "a known flow's bytes counted as 64 per packet",
    ),  # fmt: skip
    ("count.c", "\tf->packets = tx ? 0 : pkts;", "\tf->packets = 0;", "a new flow's first packet not counted"),
    ("count.c", "\tf->bytes = tx ? 0 : len;", "\tf->bytes = 0;", "a new flow's first bytes not counted"),
    (
        "count.c",
        "\tfor (int i = 0; i < words; i++)\n\t\tif (w[i] != k[i])",
        "\tfor (int i = 0; i < 1; i++)\n\t\tif (w[i] != k[i])",
        "flows matched by their first key word only",
    ),  # fmt: skip
    (
        "count.c",
        "\tfor (int i = 0; i < words; i++)\n\t\tx += k[i] * mix[i];",
        "\tfor (int i = 0; i < 1; i++)\n\t\tx += k[i] * mix[i];",
        "hash of the ports alone",
    ),  # fmt: skip
    ("count.c", "\tx ^= x >> 32;\n", "", "hash without folding the high half"),
    ("count.c", "p < BPTRAF_FLOW_PROBES; p++", "p < 1; p++", "a flow looked for in its home slot only"),
    ("count.c", "\t__sync_lock_test_and_set(&w[0], k[0]);", "", "a new flow's slot never published"),
    ("count.c", "\t\t\tflow_fill(w, f, k, words, pkts, len, tx);\n", "", "a claimed slot never filled in"),
    ("count.c", "\t\tst->untracked_packets += pkts;", "", "untracked packets not counted"),
    ("count.c", "\t\t*full = 1;", "\t\t*full = 0;", "a full table never said"),
    ("count.c", "\treturn XDP_PASS;", "\treturn XDP_DROP;", "pass mode drops"),
    # Drop mode.
    ("drop.c", "\treturn XDP_DROP;", "\treturn XDP_PASS;", "drop mode passes"),
    (
        "drop.c",
        "\t\tc->bytes += ctx->data_end - ctx->data;",
        "\t\tc->bytes += ctx->data_end - ctx->data - 14;",
        "drop bytes without the Ethernet header",
    ),  # fmt: skip
    # The shared list.
    ("counters.h", "X(1023) X(1518)", "X(1023) X(1514)", "jumbo bucket starts at 1515"),
    # Egress (tc, TX): GSO segments, wire bytes, the verdict, driver-inserted VLAN tags, sizes.
    (
        "egress.c",
        "\t\tsegs = skb->gso_segs;\n\t\tif (segs < 2)\n\t\t\tsegs = dodgy_segs(len, wire, gso_size);",
        "\t\tsegs = 1;",
        "a GSO packet counts as one frame",
    ),  # fmt: skip
    ("egress.c", "\t\tsegs = skb->gso_segs;", "\t\tsegs = skb->gso_segs - 1;", "one GSO segment too few"),
    (
        "egress.c",
        "\tsegs = (len + gso_size - 1) / gso_size;",
        "\tsegs = len / gso_size;",
        "a dodgy GSO packet's segments rounded down",
    ),  # fmt: skip
    ("egress.c", "== segs ? segs : segs - 1;", "== segs ? segs : segs;", "a dodgy GSO packet's overcount kept"),
    (
        "egress.c",
        "classify_tagged(s, slot, data, end, segs, wire, ",
        "classify_tagged(s, slot, data, end, segs, len, ",
        "TX bytes from skb->len instead of wire_len",
    ),  # fmt: skip
    ("egress.c", "#define TC_ACT_UNSPEC -1", "#define TC_ACT_UNSPEC 2", "egress returns TC_ACT_SHOT"),
    ("egress.c", ", skb->vlan_present);", ", 0);", "driver-inserted VLAN tag ignored"),
    (
        "parse.h",
        "\tif (l3 != (void *)(eth + 1) || hw_vlan)\n\t\tadd(s, BPTRAF_C_VLAN, pkts, len);\n",
        "\tif (l3 != (void *)(eth + 1))\n\t\tadd(s, BPTRAF_C_VLAN, pkts, len);\n\tif (hw_vlan)\n\t\tadd(s, BPTRAF_C_VLAN, pkts, len);\n",
        "an inline-tagged frame with a driver tag counted twice",
    ),  # fmt: skip
    (
        "egress.c",
        "\ts->sizes[size_bucket(full)] += segs - 1;",
        "\ts->sizes[size_bucket(full)] += segs;",
        "GSO sizes: one full segment too many",
    ),  # fmt: skip
    (
        "egress.c",
        "\t\t\ts->sizes[size_bucket(wire)]++;",
        "\t\t\ts->sizes[size_bucket(wire - 1)]++;",
        "TX size bucket off by one byte",
    ),  # fmt: skip
    ("egress.c", "features & ~BPTRAF_SIZES_ON, ", "features, ", "TX sizes counted twice (by classify too)"),
]
# The smallest test set that sees each file's mutants (-x stops at the first failure, so the likeliest
# killer goes first).
TESTS_BY_FILE = {
    "parse.h": "tests/test_xdp.py tests/test_xdp_flows.py tests/test_tx_vlan.py",  # the last: driver tags (hw_vlan)
    "count.c": "tests/test_xdp_flows.py tests/test_xdp.py",
    "drop.c": "tests/test_xdp.py",
    "counters.h": "tests/test_xdp_flows.py::test_size_histogram_buckets_exactly tests/test_xdp.py",
    "egress.c": "tests/test_tx_gso.py tests/test_tx_vlan.py tests/test_tx.py::test_every_kind_sent_is_counted_exactly "
    "tests/test_tx.py::test_tso_bulk_transfer_counts_wire_segments",
}


def tree_copy(dest: Path) -> None:
    """The checkout's tracked and new files (not .venv, build output or caches), ready to mutate."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    if listed.returncode == 0:
        files = listed.stdout.split()
    else:  # not a checkout (an exported tree): everything but the venv and the mutmut output
        skip = {".venv", ".git", "mutants", "build", "__pycache__"}
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if not skip & set(p.relative_to(ROOT).parts)]
    for name in files:
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    # The editable install maps bptraf.kernel to the checkout's kernel/: shadow it with the copy's.
    (dest / "bptraf" / "kernel").symlink_to("../kernel")


def run_tests(tree: Path, tests: str, timeout: float) -> tuple[bool, float, str]:
    """True if the tests pass on this tree (the mutant survived)."""
    env = {**os.environ, "CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    # A test file this checkout lacks is skipped; a node id (file::test) names one test of a file.
    files = [t for t in tests.split() if (tree / t.split("::")[0]).exists()]
    cmd = ["nice", "-n", "10", sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider", *files]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, time.monotonic() - t0, "timeout"
    lines = proc.stdout.strip().splitlines() or [""]
    failed = next((line[:160] for line in lines if line.startswith("FAILED ")), "")
    return proc.returncode == 0, time.monotonic() - t0, failed or lines[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="only mutants whose description contains this (a|b: either)")
    ap.add_argument("--tests", default="", help="test files to run (default: TESTS_BY_FILE's for each mutant)")
    ap.add_argument("--file", default="", help="only mutants of this file (parse.h, count.c, egress.c...)")
    ap.add_argument("--without", default="", help="test files to leave out (a 'before' score: the new tests)")
    ap.add_argument("--first", default="", help="comma-separated files whose mutants run first")
    ap.add_argument("--baseline-tries", type=int, default=3, help="unmutated runs allowed to reach one pass")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    chosen = [m for m in MUTANTS if any(k in m[3] for k in args.k.split("|")) and (not args.file or m[0] == args.file)]
    if args.first:  # files named first run first (the ones changed since the last score)
        order = args.first.split(",")
        chosen.sort(key=lambda m: order.index(m[0]) if m[0] in order else len(order))
    survived: list[str] = []
    by_file: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="bptraf-kmut-") as tmp:
        base = Path(tmp) / "tree"
        tree_copy(base)
        for name in args.without.split():
            (base / name).unlink()
        args.tests = " ".join(t for t in args.tests.split() if t not in args.without.split())
        needed = args.tests or " ".join(dict.fromkeys(" ".join(TESTS_BY_FILE[m[0]] for m in chosen).split()))
        for _attempt in range(args.baseline_tries):  # on a loaded machine a timing-bound test can flake
            ok, secs, last = run_tests(base, needed, args.timeout)
            print(f"unmutated: {'pass' if ok else 'FAIL'} in {secs:.0f}s ({last})", flush=True)
            if ok:
                break
        if not ok:
            return 2
        for i, (name, find, replace, what) in enumerate(chosen, 1):
            path = base / "kernel" / name
            text = path.read_text()
            if text.count(find) != 1:
                print(f"[{i}/{len(chosen)}] {name}: {what}: INVALID (find string occurs {text.count(find)} times)")
                survived.append(f"{name}: {what} (invalid)")
                continue
            try:
                path.write_text(text.replace(find, replace))
                ok, secs, last = run_tests(base, args.tests or TESTS_BY_FILE[name], args.timeout)
            finally:
                path.write_text(text)
            tally = by_file.setdefault(name, [0, 0])
            tally[0] += not ok
            tally[1] += 1
            print(
                f"[{i}/{len(chosen)}] {name}: {what}: {'SURVIVED' if ok else 'killed'} ({secs:.0f}s; {last})",
                flush=True,
            )
            if ok:
                survived.append(f"{name}: {what}")
    killed = sum(k for k, _ in by_file.values())
    total = sum(n for _, n in by_file.values())
    for name, (k, n) in sorted(by_file.items()):
        print(f"kernel/{name}: {k}/{n} killed")
    print(f"kernel: {killed}/{total} killed ({100 * killed / max(total, 1):.0f}%)")
    for s in survived:
        print(f"  survived: {s}")
    return 0 if not survived else 1


if __name__ == "__main__":
    sys.exit(main())
