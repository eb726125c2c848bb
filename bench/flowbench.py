"""Flow-table numbers: kernel memory, the time to read and decode a full table, and a flood of new flows."""

from __future__ import annotations

import ctypes
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import bcc
import numpy as np

from bench.testbed import ROOT, Testbed, wait_generator, wait_line
from bptraf import flows, libbpf, netif
from bptraf.flowarray import FlowArray
from bptraf.flowtable import KEY4, KEY6, VALUE, FlowTables
from bptraf.loader import load_programs


def _memlock(fd: int) -> int:
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("memlock:"):
            return int(line.split()[1])
    return 0


def fill(map_fd: int, n: int, first: int = 0) -> None:
    """n distinct IPv4 UDP flows (numbered from `first`), written from userspace in one batch update."""
    keys = np.zeros(n, KEY4)
    i = np.arange(first, first + n)
    keys["src"][:, 0], keys["src"][:, 1] = 198, 18 + (i >> 16 & 1)
    keys["src"][:, 2], keys["src"][:, 3] = i >> 8 & 0xFF, i & 0xFF
    keys["dst"] = [198, 19, 0, 1]
    keys["sport"], keys["dport"], keys["proto"] = i & 0xFFFF, 53, 17
    values = np.zeros(n, VALUE)
    values["packets"], values["bytes"] = 10, 6400
    so = libbpf.lib()
    so.bpf_map_update_batch.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.POINTER(ctypes.c_uint32), ctypes.c_void_p]  # fmt: skip
    count = ctypes.c_uint32(n)
    if so.bpf_map_update_batch(map_fd, keys.ctypes.data, values.ctypes.data, ctypes.byref(count), None) < 0:
        raise OSError(ctypes.get_errno(), "flow map fill")


def _churn(map_fd: int, n: int, r: int) -> None:
    """Between two reads: 1/16 of the flows end and as many new ones start (the table stays full)."""
    share = n // 16
    gone = np.zeros(share, KEY4)
    i = np.arange(r * share, (r + 1) * share) % (2 * n)
    gone["src"][:, 0], gone["src"][:, 1] = 198, 18 + (i >> 16 & 1)
    gone["src"][:, 2], gone["src"][:, 3] = i >> 8 & 0xFF, i & 0xFF
    gone["dst"] = [198, 19, 0, 1]
    gone["sport"], gone["dport"], gone["proto"] = i & 0xFFFF, 53, 17
    libbpf.map_delete_batch(map_fd, gone.ctypes.data, share)
    fill(map_fd, share, first=(n + r * share) % (2 * n))


def measure(sizes: tuple[int, ...] = (1024, 16384, 65536), rounds: int = 7) -> dict:
    """Per table size: memlock of both tables; the time of a full table's batch read + numpy decode
    (with the match to the last read), and of what a sample does next: growth since its last read, rates
    and the top 10; the same while 1/16 of the flows change between reads (churn); and the bare batch
    reads alone (the kernel's share, the floor of a read). CPU time of this thread, so that other work on
    the machine weighs less."""
    ncpus = netif.possible_cpus()
    out = {}
    for n in sizes:
        obj, _fds, maps = load_programs(bcc, "pass", 1, flows_max=n)
        try:
            fill(maps["flows4"], n)
            res: dict = {"kernel_memory_kib": (_memlock(maps["flows4"]) + _memlock(maps["flows6"])) / 1024}
            for case in ("", "churn_"):
                tables = FlowTables(maps, n, ncpus, idle_ns=10**15)
                read, records, prev = [], [], None
                for r in range(rounds + 1):
                    if case and r:
                        _churn(maps["flows4"], n, r)
                    start = time.thread_time()
                    table, _state = tables.read(time.monotonic_ns())
                    mid = time.thread_time()
                    prev = FlowArray(table).since(prev)
                    flows.top(prev.rates(0, 1.0), 10)
                    if r:  # the first read has nothing to match
                        read.append(mid - start)
                        records.append(time.thread_time() - mid)
                res[case + "entries_read"] = len(table)
                res[case + "read_ms"] = {k: v * 1e3 for k, v in _spread(read).items()}
                res[case + "records_ms"] = {k: v * 1e3 for k, v in _spread(records).items()}
            res["syscall_ms"] = {k: v * 1e3 for k, v in _spread(_bare_reads(maps, n, rounds)).items()}
            out[str(n)] = res
        finally:
            obj.cleanup()
    return out


def _bare_reads(maps: dict[str, int], n: int, rounds: int) -> list[float]:
    keys4, keys6, values = np.zeros(n, KEY4), np.zeros(n, KEY6), np.zeros(n, VALUE)
    out = []
    for _ in range(rounds):
        start = time.thread_time()
        for fd, keys in ((maps["flows4"], keys4), (maps["flows6"], keys6)):
            libbpf.map_read_batch(fd, keys.ctypes.data, values.ctypes.data, keys.itemsize, VALUE.itemsize, n)
        out.append(time.thread_time() - start)
    return out


def render(r: dict) -> str:
    """The flow table's figures as a small table (`python -m bench --flowtable`)."""
    out = ["| entries | bare batch reads | read + decode | rates + top 10 | with churn: read + decode | rates + top 10 |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    for n, v in r.items():
        cells = [_fmt(v[k]) for k in ("syscall_ms", "read_ms", "records_ms", "churn_read_ms", "churn_records_ms")]
        out.append(f"| {int(n):,} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _fmt(s: dict) -> str:
    return f"{s['median']:.1f} ({s['min']:.1f}–{s['max']:.1f}) ms"


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def flood(tb: Testbed, pps: float = 200_000, seconds: float = 6.0, flows_max: int = 65536) -> dict:
    """bptraf --json --flows --flows-max 65536 while every frame is a new flow at `pps` (bench/floodgen.py):
    are the totals exact, does every interval yield a sample, and is the full table said once?"""
    frames = int(pps * seconds)
    cmd = [sys.executable, "-m", "bptraf", tb.rx, "--json", "-i", "1", "--flows", "--flows-max", str(flows_max),
           "--top", "5"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not lines and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not lines:
            raise RuntimeError("bptraf did not start for the flood")
        tb.pin_napi()
        rx0 = tb.rx_packets()
        before = sum(json.loads(line)["counters"]["all"]["packets"] for line in list(lines))
        gen = subprocess.Popen(["ip", "netns", "exec", tb.ns, "taskset", "-c", "0", sys.executable, "-u", "-m",
                                "bench.floodgen", tb.gen, "--frames", str(frames), "--pps", str(pps), "--dst-mac",
                                tb.rx_mac, "--seconds", str(seconds * 1.5)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_line(gen, "sending")
        started = time.monotonic()
        sent = wait_generator(gen, timeout=seconds * 2 + 30)
        elapsed = time.monotonic() - started
        time.sleep(2.2)  # two more intervals: the last frames reach a sample
        rx = tb.rx_packets() - rx0
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
        reader.join(timeout=5)
    records = [json.loads(line) for line in lines]
    counted = sum(r["counters"]["all"]["packets"] for r in records) - before
    gaps = [r["interval"] for r in records[1:]]
    return {
        "pps_offered": sent["frames"] / elapsed,
        "frames_received": rx,
        "bptraf_counted": counted,
        "exact": counted == rx,
        "samples": len(records),
        "longest_interval_s": max(gaps) if gaps else None,
        "warnings": err.count("flow table is full"),
        "evicted": sum(r.get("flows_evicted", 0) for r in records),
        "untracked_packets": sum(r.get("flows_untracked_packets", 0) for r in records),
        "stderr": err.strip()[:300],
    }
