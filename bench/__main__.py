"""bptraf's benchmark: `python -m bench` as root (or `sudo scripts/bench`). Writes bench/results.{md,json}.

Every figure comes from one run on this machine, so they are compared as ratios.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import egress, exporter, flowbench, testrun, traffic, userspace
from bench.report import render, test_run_section
from bench.testbed import Testbed
from bptraf.versions import versions

HERE = Path(__file__).resolve().parent

CASES = {
    "no XDP program": traffic.nothing,
    "bare XDP_DROP native": functools.partial(traffic.bare, mode="native", action="drop"),
    "bare XDP_DROP generic": functools.partial(traffic.bare, mode="generic", action="drop"),
    "bare XDP_PASS native": functools.partial(traffic.bare, mode="native", action="pass"),
    "bare XDP_PASS generic": functools.partial(traffic.bare, mode="generic", action="pass"),
    "bptraf -d native": functools.partial(traffic.bptraf, mode="native", drop=True),
    "bptraf -d generic": functools.partial(traffic.bptraf, mode="generic", drop=True),
    "bptraf native": functools.partial(traffic.bptraf, mode="native", drop=False),
    "bptraf generic": functools.partial(traffic.bptraf, mode="generic", drop=False),
    "tcpdump (AF_PACKET)": traffic.tcpdump,
}
COST_CASES = ("bare XDP_DROP native", "bptraf -d native", "bare XDP_PASS native", "bptraf native")
COST_PAIRS = (("bptraf -d native", "bare XDP_DROP native"), ("bptraf native", "bare XDP_PASS native"))
# (case, its baseline): each ratio is taken run by run, over the interleaved pairs
PAIRS = {
    "drop_native": ("bptraf -d native", "bare XDP_DROP native"),
    "drop_generic": ("bptraf -d generic", "bare XDP_DROP generic"),
    "pass_native": ("bptraf native", "bare XDP_PASS native"),
    "pass_generic": ("bptraf generic", "bare XDP_PASS generic"),
    "bare_pass_vs_none": ("bare XDP_PASS native", "no XDP program"),
    "tcpdump": ("tcpdump (AF_PACKET)", "no XDP program"),
}


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "?")  # fmt: skip
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "versions": versions().replace("\n", ", "),
    }


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--seconds", type=float, default=3.0, help="measuring window per traffic run")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=HERE)
    p.add_argument("--exporter", action="store_true", help="only the Prometheus exporter's costs (exporter.{md,json})")
    p.add_argument("--egress", action="store_true", help="only the TX (tc egress) costs, into egress.{json,md}")
    p.add_argument("--flowtable", action="store_true", help="only the flow table's read and sample costs, printed")
    p.add_argument(
        "--kernel",
        action="store_true",
        help="only the in-kernel costs per packet (test runs of the RX and egress programs, the flow update, "
        "egress bpf_stats), into kernel.{json,md}",
    )
    p.add_argument(
        "--startup", action="store_true", help="only start to first sample, cached and not (printed, not written)"
    )
    p.add_argument("--tui", action="store_true", help="only the TUI's cost under 16 flows, into tui.{json,md}")
    args = p.parse_args()
    # SIGTERM unwinds like an exception, so the testbed and every attached program are torn down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (it creates a netns and attaches XDP programs)")
    if args.exporter:
        run_exporter(args)
        return
    if args.egress:
        egress.main(args.out)
        return
    if args.flowtable:
        print(flowbench.render(flowbench.measure()))
        return
    if args.kernel:
        run_kernel(args)
        return
    if args.startup:
        with Testbed() as tb:
            print(json.dumps(userspace.startup(tb, args.repeats), indent=2))
        return
    if args.tui:
        run_tui(args)
        return

    if shutil.which("tcpdump") is None:  # scripts/bench installs it; without it, the comparison is left out
        print("bench: no tcpdump; leaving out the AF_PACKET comparison", flush=True)
        CASES.pop("tcpdump (AF_PACKET)")
        PAIRS.pop("tcpdump")
    results: dict = {"machine": machine(), "window_s": args.seconds, "repeats": args.repeats}
    started = time.monotonic()
    with Testbed() as tb:
        print(f"bench: testbed {tb.rx} <-> {tb.ns}/{tb.gen}", flush=True)
        results["generator"] = traffic.choose_generator(tb)
        print(f"bench: generator: {results['generator']}", flush=True)
        run_traffic(tb, args, results)
        print("bench: test runs", flush=True)
        results["test_run_ns"] = testrun.measure()
        print("bench: flow table", flush=True)
        results["flow_table"] = flowbench.measure()
        print("bench: userspace", flush=True)
        results["userspace"] = {
            f"{form} -i {interval:g}": userspace.cpu_percent(tb.rx, form, interval, 6.0 if interval >= 1 else 4.0)
            for form in ("plain", "json", "tui")
            for interval in (1.0, 0.1)
        }
        print("bench: the TUI with --sizes --flows under 16 flows", flush=True)
        results["tui_flows"] = userspace.tui_cost(tb.rx, tb.in_ns)
        print("bench: start-up, 1 and 8 interfaces, programs cached and compiled afresh", flush=True)
        results.update(userspace.startup(tb, args.repeats))
        print("bench: flow flood", flush=True)
        results["flood"] = flowbench.flood(tb)
    print("bench: verifier", flush=True)
    results["verified_insns"] = userspace.verified_insns()
    print("bench: Prometheus exporter", flush=True)
    results["exporter"] = exporter.measure(args.repeats)
    results["egress"] = egress.measure()
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    text = render(results) + "\n" + exporter.render(results["exporter"]) + egress.render(results["egress"])
    (args.out / "results.md").write_text(text)
    print(text)


def run_traffic(tb: Testbed, args, results: dict) -> None:
    """The receive-rate runs under generated traffic, and the in-kernel cost under it."""
    cases, pairs = CASES, PAIRS
    if tb.method == "clone":  # generic XDP skips the clones (redirected skbs): it would see no frame
        cases = {k: v for k, v in CASES.items() if "generic" not in k}
        pairs = {k: v for k, v in PAIRS.items() if v[0] in cases and v[1] in cases}
    windows: dict[str, list] = {name: [] for name in cases}
    for r in range(args.repeats):  # interleaved, so drift in the VM hits every case alike
        for name, case in cases.items():
            with case(tb) as (_pid, lines):
                tb.pin_napi()
                w = traffic.window(tb, args.seconds, lines)
            windows[name].append(w)
            print(f"bench: [{r + 1}/{args.repeats}] {name}: {w.kernel_pps / 1e6:.2f} Mpps", flush=True)
    results["traffic"] = {name: traffic.summarize(ws) for name, ws in windows.items()}
    results["pairs"] = pairs
    results["ratios"] = {k: traffic.pair_ratio(windows[a], windows[b]) for k, (a, b) in pairs.items()}
    cost: dict[str, list[float]] = {name: [] for name in COST_CASES}
    for r in range(args.repeats):  # interleaved too, each program's ratio taken against its baseline's round
        for name in COST_CASES:
            cost[name].append(traffic.cost_under_traffic(tb, cases[name], args.seconds))
        print(
            f"bench: [{r + 1}/{args.repeats}] bpf_stats: {', '.join(f'{v[-1]:.1f}' for v in cost.values())} ns",
            flush=True,
        )
    results["cost_under_traffic_ns"] = {name: traffic.stats(v) for name, v in cost.items()}
    results["cost_ratios"] = {
        f"{a} / {b}": traffic.stats([x / y for x, y in zip(cost[a], cost[b])]) for a, b in COST_PAIRS
    }


def run_exporter(args) -> None:
    """The exporter's benchmark alone: bench/exporter.json and bench/exporter.md."""
    results = {"machine": machine(), **exporter.measure(args.repeats)}
    (args.out / "exporter.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    text = f"{m['date']} · {m['cpu']} · {m['cores']} cores · kernel {m['kernel']}\n\n" + exporter.render(results)
    (args.out / "exporter.md").write_text(text)
    print(text)


def run_kernel(args) -> None:
    """The in-kernel costs alone, a few minutes: bench/kernel.json and bench/kernel.md."""
    print("bench: test runs", flush=True)
    results = {"machine": machine(), "test_run_ns": testrun.measure()}
    print("bench: egress test runs", flush=True)
    results["egress"] = {"test_run_ns": egress.test_run()}
    print("bench: egress bpf_stats", flush=True)
    results["egress"]["bpf_stats_ns"] = egress.bpf_stats()
    (args.out / "kernel.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    text = "\n".join(
        [
            f"{m['date']} · {m['cpu']} · {m['cores']} cores · kernel {m['kernel']}",
            "",
            *test_run_section(results["test_run_ns"]),
        ]
    )
    text += "\n" + egress.render(results["egress"])
    (args.out / "kernel.md").write_text(text)


def run_tui(args) -> None:
    """The TUI's cost alone (--sizes --flows, 16 flows, 120x40): bench/tui.json and bench/tui.md."""
    with Testbed() as tb:
        results = {"machine": machine(), **userspace.tui_cost(tb.rx, tb.in_ns, args.repeats)}
    (args.out / "tui.json").write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    text = f"{m['date']} · {m['cpu']} · {m['cores']} cores · kernel {m['kernel']}\n\n" + userspace.render_tui(results)
    (args.out / "tui.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
