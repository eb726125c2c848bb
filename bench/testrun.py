"""In-kernel cost per packet with BPF_PROG_TEST_RUN: bptraf's programs against bare XDP_PASS and XDP_DROP."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import bcc

from bptraf import libbpf
from bptraf.kernel_src import kernel_dir
from bptraf.loader import load_programs
from bptraf.source import Feature

ROOT = Path(__file__).resolve().parent.parent
KERNEL = Path(__file__).resolve().parent / "kernel"
sys.path.insert(0, str(ROOT / "tests"))
from frames import KINDS  # noqa: E402  (the tests' hand-built frames, one definition for both)

BENCH_KINDS = {
    "IPv4/UDP": "ipv4-udp",
    "IPv6/TCP": "ipv6-tcp",
    "IPv6/TCP behind 3 extension headers": "ipv6-hbh-dst-frag-tcp",
    "QinQ IPv6/ICMPv6": "qinq-ipv6-icmpv6",
    "ARP": "arp",
    "truncated IPv4": "ipv4-truncated",
}
FLOW_KINDS = ("IPv4/UDP", "IPv6/TCP")  # where the flow programs run
# The floor under a flow hit (kernel/lookup.c): one kernel hash-map hit with the key size of that kind's table
HASH_HIT = {"IPv4/UDP": "hash hit alone, 16-byte key", "IPv6/TCP": "hash hit alone, 40-byte key"}
MIX_FLOWS = 100_000  # distinct flows in the miss-heavy mix, against the default 16,384-entry table
# Separate loads of each of bptraf's programs, whose per-round figure is the mean over them: the same
# program (same instructions) loaded afresh, with a map of its own, ran up to 5% faster or slower from
# one load to the next and kept that for its lifetime (a bare program, which touches no memory, did not
# vary), so a figure from one load is as much where its map landed as what its code costs.
LOADS = 3
# program -> the bare program its ratio is taken against
BASELINE = {
    "bptraf -d": "bare XDP_DROP",
    "bptraf": "bare XDP_PASS",
    "bptraf --sizes": "bare XDP_PASS",
    "bptraf --flows": "bare XDP_PASS",
}


def ns_per_packet(fd: int, frame: bytes, repeat: int, tries: int = 3) -> float:
    """The kernel's own average over `repeat` runs: its timer stops while the test run is rescheduled,
    so the other work on a shared machine adds less to it than to a wall-clock figure (which also
    carries each call's fixed cost of milliseconds). It is in whole ns.

    The runs are made as `tries` test runs of repeat / tries each, and the least average is kept:
    interrupts, steal time and the other programs on a shared VM only ever add to an average, so the
    least of a few is the steadier figure for the same total time."""
    return float(min(libbpf.test_run_xdp(fd, frame, max(repeat // tries, 1))[1] for _ in range(tries)))


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _load(loads: int = LOADS) -> tuple[list, dict[str, list[int]]]:
    """{program: its fds}, bptraf's programs `loads` times each (separately compiled objects, maps of their own)."""
    kdir = kernel_dir()
    bare_pass = bcc.BPF(src_file=str(KERNEL / "bare_pass.c").encode())
    bare_drop = bcc.BPF(src_file=str(KERNEL / "bare_drop.c").encode())
    lookup = bcc.BPF(src_file=str(KERNEL / "lookup.c").encode())
    text = ((kdir / "count.c").read_text() + (KERNEL / "flowmix.c").read_text()).encode()
    mixes = {
        n: bcc.BPF(text=text, cflags=[f"-I{kdir}", "-fno-strict-aliasing", "-DBPTRAF_NIFACES=1", f"-DBENCH_FLOWS={n}"])
        for n in (1, MIX_FLOWS)
    }
    objs = [bare_pass, bare_drop, lookup, *mixes.values()]
    progs: dict[str, list[int]] = {
        "bare XDP_PASS": [bare_pass.load_func(b"bench_bare_pass", bcc.BPF.XDP).fd],
        "bare XDP_DROP": [bare_drop.load_func(b"bench_bare_drop", bcc.BPF.XDP).fd],
        "bptraf -d": [],
        "bptraf": [],
        "bptraf --sizes": [],
        "bptraf --flows": [],
        "flows, one flow": [mixes[1].load_func(b"bench_flowmix", bcc.BPF.XDP).fd],
        f"flows, {MIX_FLOWS:,} flows": [mixes[MIX_FLOWS].load_func(b"bench_flowmix", bcc.BPF.XDP).fd],
        HASH_HIT["IPv4/UDP"]: [lookup.load_func(b"bench_lookup16", bcc.BPF.XDP).fd],
        HASH_HIT["IPv6/TCP"]: [lookup.load_func(b"bench_lookup40", bcc.BPF.XDP).fd],
    }
    for _ in range(loads):
        drop_obj, drop_fds, _ = load_programs(bcc, "drop", 1)
        count_obj, count_fds, _ = load_programs(bcc, "pass", 1)
        objs += [drop_obj, count_obj]
        progs["bptraf -d"].append(drop_fds[Feature.NONE][0])
        progs["bptraf"].append(count_fds[Feature.NONE][0])
        progs["bptraf --sizes"].append(count_fds[Feature.SIZES][0])
        progs["bptraf --flows"].append(count_fds[Feature.FLOWS][0])
    return objs, progs


def _runs_on(prog: str, label: str) -> bool:
    """The flow programs run on the flow kinds only, and each hash-hit floor on its own kind."""
    if prog in HASH_HIT.values():
        return HASH_HIT.get(label) == prog
    return label in FLOW_KINDS or not prog.startswith("flows")


def measure(repeat: int = 4_000_000, rounds: int = 7) -> dict:
    """Per frame kind: each program's ns/packet and its ratio to its bare baseline, as the median (and
    spread) over `rounds` rounds; within a round every program runs back to back, so each ratio is a
    pair measured under the same load."""
    objs, progs = _load()
    frames = {k.name: k.frame for k in KINDS}
    out: dict[str, dict] = {}
    try:
        for label, name in BENCH_KINDS.items():
            names = [p for p in progs if _runs_on(p, label)]
            ns: dict[str, list[float]] = {p: [] for p in names}
            for _ in range(rounds):
                for p in names:
                    each = repeat // len(progs[p])  # the mean over its loads (LOADS)
                    ns[p].append(statistics.mean([ns_per_packet(fd, frames[name], each) for fd in progs[p]]))
            row: dict = {"ns": {p: _spread(v) for p, v in ns.items()}}
            row["ratio"] = {
                p: _spread([a / b for a, b in zip(ns[p], ns[base])]) for p, base in BASELINE.items() if p in ns
            }
            if label in FLOW_KINDS:
                mix, one = f"flows, {MIX_FLOWS:,} flows", "flows, one flow"
                row["flows_over_parser_ns"] = _spread([a - b for a, b in zip(ns["bptraf --flows"], ns["bptraf"])])
                row["mix_over_hit"] = _spread([a / b for a, b in zip(ns[mix], ns[one])])
                hit = ns[HASH_HIT[label]]
                row["hash_hit_over_bare_ns"] = _spread([a - b for a, b in zip(hit, ns["bare XDP_PASS"])])
            out[label] = row
    finally:
        for obj in objs:
            obj.cleanup()
    return out
