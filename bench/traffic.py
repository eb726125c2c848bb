"""Receive-rate runs under generated traffic: no program, bare XDP_DROP, bptraf -d, bptraf, tcpdump."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.testbed import ROOT, Testbed, sh, wait_generator, wait_line
from bptraf import libbpf
from bptraf.loader import import_bcc

KERNEL = Path(__file__).resolve().parent / "kernel"


@dataclass
class Window:
    kernel_pps: float  # the receiver's rx_packets over the window
    bptraf_pps: float | None  # bptraf's own count over the window, where bptraf runs
    generator_pps: float  # frames the generator handed to the kernel per second
    covered: bool  # the generator was still sending when the window closed


# Each case is a context manager: set up on the receiver, yield (pid holding the program, bptraf's
# JSON lines or None), undo on exit.


@contextlib.contextmanager
def bare(tb: Testbed, mode: str, action: str = "drop") -> Iterator[tuple[int, None]]:
    """A bare XDP program that only returns XDP_DROP or XDP_PASS: the baseline for -d and for pass mode."""
    bcc = import_bcc()
    b = bcc.BPF(src_file=str(KERNEL / f"bare_{action}.c").encode())
    fd = b.load_func(f"bench_bare_{action}".encode(), bcc.BPF.XDP).fd
    link = libbpf.link_create_xdp(fd, socket.if_nametoindex(tb.rx), mode)
    try:
        yield os.getpid(), None
    finally:
        os.close(link)
        b.cleanup()


@contextlib.contextmanager
def bptraf(tb: Testbed, mode: str, drop: bool) -> Iterator[tuple[int, list[str]]]:
    """bptraf --json as a user runs it (every second, the default); its lines are collected as they come,
    for its own count."""
    lines: list[str] = []
    cmd = [sys.executable, "-m", "bptraf", tb.rx, "--json", "-i", "1", "--mode", mode] + (["-d"] if drop else [])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    try:
        reader.start()
        deadline = time.monotonic() + 30
        while not lines and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not lines:
            raise RuntimeError(f"bptraf failed: {proc.stderr.read() if proc.poll() is not None else 'no output'}")
        yield proc.pid, lines
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(timeout=5)


@contextlib.contextmanager
def tcpdump(tb: Testbed) -> Iterator[tuple[int, None]]:
    proc = subprocess.Popen(["tcpdump", "-i", tb.rx, "-w", "/dev/null", "-n", "-s", "128", "-B", "8192"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stderr.readline()
        if "listening on" not in line:
            raise RuntimeError(f"tcpdump did not start: {line}")
        yield proc.pid, None
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


@contextlib.contextmanager
def nothing(tb: Testbed) -> Iterator[tuple[int, None]]:
    yield 0, None


def bptraf_rate(lines: list[str], w0: float, w1: float) -> float | None:
    """bptraf's pps over the intervals that lie wholly inside the wall-clock window [w0, w1]."""
    packets, seconds = 0, 0.0
    for line in lines:
        r = json.loads(line)
        if "counters" not in r:  # the drop run's final summary
            continue
        end = _epoch(r["time"])
        if end - r["interval"] >= w0 - 0.01 and end <= w1 + 0.01:
            packets += r["counters"]["all"]["packets"]
            seconds += r["interval"]
    return packets / seconds if seconds else None


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def window(tb: Testbed, seconds: float, lines: list[str] | None = None) -> Window:
    gen = tb.generator(seconds + 1.5)
    try:
        wait_line(gen, "sending")
        time.sleep(0.3)
        k0, m0, w0 = tb.rx_packets(), time.monotonic(), time.time()
        time.sleep(seconds)
        k1, m1, w1 = tb.rx_packets(), time.monotonic(), time.time()
        covered = gen.poll() is None
        if lines is not None:
            time.sleep(1.2)  # let bptraf write the intervals that close the window
    finally:
        result = wait_generator(gen)
    return Window(
        kernel_pps=(k1 - k0) / (m1 - m0),
        bptraf_pps=bptraf_rate(list(lines), w0, w1) if lines is not None else None,
        generator_pps=result["frames"] / result["seconds"],
        covered=covered,
    )


def choose_generator(tb: Testbed) -> str:
    """Set tb's generator method: live frames where the kernel allows them, else clones of an skb. Says
    which, for the report."""
    gen = tb.generator(0)
    try:
        wait_line(gen, "sending")
        wait_generator(gen)
        return "live frames (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES, an XDP_TX program): xdp_frames"
    except RuntimeError as exc:
        if "Operation not permitted" not in str(exc):
            raise
    tb.method = "clone"
    return ("clones of one skb (BPF_PROG_TEST_RUN of a tc program calling bpf_clone_redirect), since this "
            "kernel refuses live frames (EPERM, as root, on any interface); the receiving veth copies each "
            "clone before XDP sees it, and generic XDP skips redirected skbs, so generic mode is not run")  # fmt: skip


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def pair_ratio(cases: list[Window], bases: list[Window]) -> dict:
    """The ratio of two interleaved cases, run by run (each pair ran back to back): median and spread."""
    return stats([c.kernel_pps / b.kernel_pps for c, b in zip(cases, bases)])


def summarize(windows: list[Window]) -> dict:
    out = {
        "kernel_pps": stats([w.kernel_pps for w in windows]),
        "generator_pps": stats([w.generator_pps for w in windows]),
        "covered": all(w.covered for w in windows),
    }
    if all(w.bptraf_pps is not None for w in windows):
        out["bptraf_pps"] = stats([w.bptraf_pps for w in windows])
    return out


def prog_stats(pid: int) -> tuple[int, int]:
    """Summed (run_time_ns, run_cnt) of the XDP programs a process holds, from /proc fdinfo."""
    total_ns = total_cnt = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-prog":
                continue
            info = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines())
        except OSError:
            continue
        if info.get("prog_type", "").strip() == "6":  # BPF_PROG_TYPE_XDP
            total_ns += int(info.get("run_time_ns", 0))
            total_cnt += int(info.get("run_cnt", 0))
    return total_ns, total_cnt


def cost_under_traffic(tb: Testbed, setup: Callable, seconds: float) -> float:
    """ns per packet from the kernel's BPF run-time statistics while real traffic flows."""
    sh("sysctl", "-qw", "kernel.bpf_stats_enabled=1")
    try:
        with setup(tb) as (pid, _lines):
            tb.pin_napi()
            gen = tb.generator(seconds + 1.5)
            try:
                wait_line(gen, "sending")
                time.sleep(0.3)
                ns0, cnt0 = prog_stats(pid)
                time.sleep(seconds)
                ns1, cnt1 = prog_stats(pid)
            finally:
                wait_generator(gen)
    finally:
        sh("sysctl", "-qw", "kernel.bpf_stats_enabled=0")
    return (ns1 - ns0) / (cnt1 - cnt0) if cnt1 > cnt0 else float("nan")
