"""In-kernel cost per packet with BPF_PROG_TEST_RUN: bptraf's programs against a bare XDP_DROP."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import bcc

from bptraf import libbpf
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


def _wall_ns(fd: int, frame: bytes, repeat: int) -> tuple[int, int]:
    start = time.perf_counter_ns()
    _retval, avg = libbpf.test_run_xdp(fd, frame, repeat)
    return time.perf_counter_ns() - start, avg


def ns_per_packet(fd: int, frame: bytes, repeat: int) -> tuple[float, int]:
    """(slope, kernel's figure): the kernel reports a whole-ns average, too coarse for ratios near 1,
    and each test-run call has a fixed cost of milliseconds, so the slope between a short and a long
    run gives the per-packet cost with sub-ns resolution."""
    short, _ = _wall_ns(fd, frame, repeat // 8)
    long, avg = _wall_ns(fd, frame, repeat)
    return (long - short) / (repeat - repeat // 8), avg


def measure(repeat: int = 16_000_000, rounds: int = 7) -> dict:
    """ns/packet per program and frame kind: the least of `rounds` interleaved runs, since whatever
    else the VM does only ever adds time (the median is kept in the JSON too)."""
    bare = bcc.BPF(src_file=str(KERNEL / "bare_drop.c").encode())
    drop_obj, drop_fds, _ = load_programs(bcc, "drop", 1)
    count_obj, count_fds, _ = load_programs(bcc, "pass", 1)
    progs = {
        "bare XDP_DROP": bare.load_func(b"bench_bare_drop", bcc.BPF.XDP).fd,
        "bptraf -d": drop_fds[Feature.NONE][0],
        "bptraf": count_fds[Feature.NONE][0],
        "bptraf --sizes": count_fds[Feature.SIZES][0],
        "bptraf --flows": count_fds[Feature.FLOWS][0],
    }
    frames = {k.name: k.frame for k in KINDS}
    out: dict[str, dict[str, float]] = {}
    try:
        for label, name in BENCH_KINDS.items():
            samples: dict[str, list[float]] = {p: [] for p in progs}
            kernel: dict[str, list[int]] = {p: [] for p in progs}
            for _ in range(rounds):
                for p, fd in progs.items():
                    slope, avg = ns_per_packet(fd, frames[name], repeat)
                    samples[p].append(slope)
                    kernel[p].append(avg)
            out[label] = {p: min(v) for p, v in samples.items()}
            out[label]["median_ns"] = {p: statistics.median(v) for p, v in samples.items()}
            out[label]["kernel_avg_ns"] = {p: statistics.median(v) for p, v in kernel.items()}
    finally:
        for obj in (bare, drop_obj, count_obj):
            obj.cleanup()
    return out
