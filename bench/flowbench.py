"""Flow-table numbers: the kernel memory a table takes, and how long userspace takes to read a full one."""

from __future__ import annotations

import ctypes
import statistics
import time
from pathlib import Path

import bcc

from bptraf import flows, libbpf, netif
from bptraf.loader import load_programs


def _memlock(fd: int) -> int:
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("memlock:"):
            return int(line.split()[1])
    return 0


def fill(map_fd: int, n: int, ncpus: int) -> None:
    """n distinct IPv4 UDP flows, written from userspace (every CPU's value at once)."""
    so = libbpf.lib()
    so.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    value = ctypes.create_string_buffer(flows.VALUE.pack(10, 6400, 1, 2) * ncpus)
    v4 = bytes(10) + b"\xff\xff"
    for i in range(n):
        key = flows.KEY.pack(
            v4 + bytes([198, 18, i >> 8 & 0xFF, i & 0xFF]), v4 + bytes([198, 19, 0, 1]), i & 0xFFFF, 53, 17, 0
        )
        kbuf = ctypes.create_string_buffer(key, len(key))
        if so.bpf_map_update_elem(map_fd, kbuf, value, 0) < 0:
            raise OSError(ctypes.get_errno(), "flow map fill")


def measure(sizes: tuple[int, ...] = (1024, 16384, 65536), rounds: int = 5) -> dict:
    ncpus = netif.possible_cpus()
    out = {}
    for n in sizes:
        obj, _fds, maps = load_programs(bcc, "pass", 1, flows_max=n)
        try:
            fill(maps["flows"], n, ncpus)
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                found = flows.decode_dump(libbpf.map_dump(maps["flows"], flows.KEY.size, flows.VALUE.size * ncpus, n))
                times.append(time.perf_counter() - start)
            out[str(n)] = {
                "entries_read": len(found),
                "read_ms": statistics.median(times) * 1e3,
                "kernel_memory_kib": _memlock(maps["flows"]) / 1024,
            }
        finally:
            obj.cleanup()
    return out
