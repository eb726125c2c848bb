"""Flow-table numbers: kernel memory, the time to read and decode a full table, and a flood of new flows."""

from __future__ import annotations

import json
import mmap
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import bcc
import numpy as np

from bench.testbed import ROOT, Testbed, wait_generator, wait_line
from bptraf import flows, netif
from bptraf.build import flow_bits
from bptraf.flowarray import FlowArray
from bptraf.flowtable import SLOT4, SLOT6, USED, FlowTables
from bptraf.loader import load_programs


def _memlock(fd: int) -> int:
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("memlock:"):
            return int(line.split()[1])
    return 0


class Table:
    """A loaded program's IPv4 flow table, mapped here to be filled as the kernel fills it: n flows in
    slots at random (the table has 2 slots a flow), each with its key, state USED and counts."""

    def __init__(self, fd: int, n: int, seed: int = 1) -> None:
        self.slots = 1 << flow_bits(n)
        self._mem = mmap.mmap(fd, self.slots * SLOT4.itemsize)
        self.rows = np.frombuffer(self._mem, SLOT4, self.slots)
        self._free = list(np.random.default_rng(seed).permutation(self.slots))
        self._at: dict[int, int] = {}  # flow number -> slot

    def fill(self, n: int, first: int = 0) -> None:
        """n distinct IPv4 UDP flows, numbered from `first`."""
        i = np.arange(first, first + n)
        at = np.array([self._free.pop() for _ in range(n)])
        self._at.update(zip(i.tolist(), at.tolist()))
        rows = np.zeros(n, SLOT4)
        rows["src"][:, 0], rows["src"][:, 1] = 198, 18 + (i >> 16 & 1)
        rows["src"][:, 2], rows["src"][:, 3] = i >> 8 & 0xFF, i & 0xFF
        rows["dst"] = [198, 19, 0, 1]
        rows["sport"], rows["dport"], rows["proto"], rows["state"] = i & 0xFFFF, 53, 17, USED
        rows["packets"], rows["bytes"] = 10, 6400
        self.rows[at] = rows

    def churn(self, n: int, r: int) -> None:
        """Between two reads: 1/16 of the flows end and as many new ones start."""
        share = n // 16
        for i in sorted(self._at)[:share]:
            at = self._at.pop(i)
            self.rows[at] = np.zeros(1, SLOT4)
            self._free.insert(0, at)
        self.fill(share, first=n + r * share)

    def close(self) -> None:
        self.rows = np.zeros(0, SLOT4)
        self._mem.close()


def measure(sizes: tuple[int, ...] = (1024, 16384, 65536), rounds: int = 7) -> dict:
    """Per table size: memlock of both tables; the time of a full table's mapped read + numpy decode
    (with the match to the last read), and of what a sample does next: growth since its last read, rates
    and the top 10; the same while 1/16 of the flows change between reads (churn); and the bare copy of
    both mapped tables (the floor of a read). CPU time of this thread, so that other work on
    the machine weighs less."""
    ncpus = netif.possible_cpus()
    out = {}
    for n in sizes:
        obj, _fds, maps = load_programs(bcc, "pass", 1, flows_max=n)
        try:
            table4 = Table(maps["flows4"], n)
            table4.fill(n)
            res: dict = {"kernel_memory_kib": (_memlock(maps["flows4"]) + _memlock(maps["flows6"])) / 1024}
            for case in ("", "churn_"):
                tables = FlowTables(maps, n, ncpus, idle_ns=10**15)
                read, records, prev = [], [], None
                for r in range(rounds + 1):
                    if case and r:
                        table4.churn(n, r)
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
            res["copy_ms"] = {k: v * 1e3 for k, v in _spread(_bare_copies(maps, n, rounds)).items()}
            table4.close()
            out[str(n)] = res
        finally:
            obj.cleanup()
    return out


def _bare_copies(maps: dict[str, int], n: int, rounds: int) -> list[float]:
    """The floor of a read: copying both mapped tables, nothing else."""
    size = 1 << flow_bits(n)
    mems = [mmap.mmap(maps[t], size * d.itemsize) for t, d in (("flows4", SLOT4), ("flows6", SLOT6))]
    views = [np.frombuffer(m, np.uint8) for m in mems]
    out = []
    for _ in range(rounds):
        start = time.thread_time()
        for view in views:
            view.copy()
        out.append(time.thread_time() - start)
    del views, view
    for m in mems:
        m.close()
    return out


def render(r: dict) -> str:
    """The flow table's figures as a small table (`python -m bench --flowtable`)."""
    out = ["| entries | bare copy of the tables | read + decode | rates + top 10 | with churn: read + decode | rates + top 10 |",
           "|---|---|---|---|---|---|"]  # fmt: skip
    for n, v in r.items():
        cells = [_fmt(v[k]) for k in ("copy_ms", "read_ms", "records_ms", "churn_read_ms", "churn_records_ms")]
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
