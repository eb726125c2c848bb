"""Flow tables of the kernel's shapes (kernel/count.c: two mmapable arrays of slots, the full flags, the
per-CPU untracked count), created by a test and filled by its hands through the kernel's map calls (not
through bptraf's mapping), so every figure a reader gets back is known."""

from __future__ import annotations

import ctypes
import ipaddress
import os

import numpy as np

from bptraf import libbpf, netif
from bptraf.build import flow_bits
from bptraf.flowtable import CLAIMED, KEY4, KEY6, SLOT4, SLOT6, USED
from bptraf.image import MapSpec, create_map

ARRAY, PERCPU_ARRAY = 2, 6
MMAPABLE = 1 << 10  # BPF_F_MMAPABLE


def key(src: str, sport: int, dst: str, dport: int, proto: int = 17, slot: int = 0) -> np.ndarray:
    """One KEY4 or KEY6 (by the addresses' version), its state USED, as a program writes it."""
    v6 = ipaddress.ip_address(src).version == 6
    k = np.zeros(1, KEY6 if v6 else KEY4)
    k["src"] = list(ipaddress.ip_address(src).packed)
    k["dst"] = list(ipaddress.ip_address(dst).packed)
    k["sport"], k["dport"], k["proto"], k["slot"], k["state"] = sport, dport, proto, slot, USED
    return k


def write_slot(fd: int, at: int, k: np.ndarray, counts=(0, 0, 0, 0), state: int = USED) -> None:
    """Write slot `at` of the flow table `fd` (its kind by the key's): key k with `state`, and the counts
    (packets, bytes, tx_packets, tx_bytes)."""
    slot = np.zeros(1, SLOT6 if k.dtype == KEY6 else SLOT4)
    for name in k.dtype.names:
        slot[name] = k[name]
    slot["state"] = state
    slot["packets"], slot["bytes"], slot["tx_packets"], slot["tx_bytes"] = counts
    raw = slot.tobytes()
    libbpf.map_update(fd, ctypes.c_uint32(at), (ctypes.c_char * len(raw)).from_buffer_copy(raw))


_MIX = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD)
_M64 = (1 << 64) - 1


def home(k: np.ndarray, bits: int) -> int:
    """The slot kernel/count.c's flow_home() starts key k's probe at, in a table of 2^bits slots (the
    key's words as this little-endian machine loads them). A test that relies on it fails if it is wrong:
    keys it puts in one slot then spread out."""
    words = np.frombuffer(k.tobytes(), "<u8").tolist()
    x = sum(w * m for w, m in zip(words, _MIX)) & _M64
    x ^= x >> 32
    return ((x * _MIX[0]) & _M64) >> (64 - bits)


class FlowMaps:
    """The four maps a FlowTables of `capacity` flows reads, and the test's hands on them. A key goes to
    the next free slot unless the test says which (`at`); putting it again overwrites its slot."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.slots = 1 << flow_bits(capacity)
        self.ncpus = netif.possible_cpus()
        specs = {
            "flows4": MapSpec("bptraf_flows4", ARRAY, 4, SLOT4.itemsize, self.slots, MMAPABLE),
            "flows6": MapSpec("bptraf_flows6", ARRAY, 4, SLOT6.itemsize, self.slots, MMAPABLE),
            "flow_full": MapSpec("bptraf_flow_full", ARRAY, 4, 4, 2, 0),
            "flow_stats": MapSpec("bptraf_flow_stats", PERCPU_ARRAY, 4, 16, 1, 0),
        }
        self.fds: dict[str, int] = {}
        try:
            for role, spec in specs.items():
                self.fds[role] = create_map(spec)
        except BaseException:
            self.close()
            raise
        self._at: dict[tuple[str, bytes], int] = {}

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}

    @staticmethod
    def _table(k: np.ndarray) -> str:
        return "flows6" if k.dtype == KEY6 else "flows4"

    def put(self, k: np.ndarray, packets: int, nbytes: int, tx=(0, 0), at: int | None = None, state: int = USED) -> int:
        """Write flow `k`'s slot: the key (with `state`) and its counts; the slot's index."""
        table = self._table(k)
        ident = (table, k.tobytes())
        if at is None:
            at = self._at.get(ident)
        if at is None:
            taken = set(i for (t, _k), i in self._at.items() if t == table)
            at = next(i for i in range(self.slots) if i not in taken)
        self._at[ident] = at
        write_slot(self.fds[table], at, k, (packets, nbytes, *tx), state)
        return at

    def drop(self, k: np.ndarray) -> None:
        """Empty flow k's slot, as the reader does (a key never put: nothing to do)."""
        table = self._table(k)
        at = self._at.pop((table, k.tobytes()), None)
        if at is None:
            return
        raw = bytes((SLOT6 if table == "flows6" else SLOT4).itemsize)
        libbpf.map_update(self.fds[table], ctypes.c_uint32(at), (ctypes.c_char * len(raw)).from_buffer_copy(raw))

    def held(self, table: str) -> list[np.ndarray]:
        """The slots of `table` that are not empty, as the kernel returns them (index, slot)."""
        dtype = SLOT6 if table == "flows6" else SLOT4
        out = []
        for i in range(self.slots):
            buf = (ctypes.c_char * dtype.itemsize)()
            libbpf.map_lookup(self.fds[table], i, buf)
            slot = np.frombuffer(bytes(buf), dtype)
            if slot["state"][0] or slot.view(np.uint8).any():
                out.append((i, slot))
        return out

    def entries(self, table: str) -> int:
        return len(self.held(table))

    def ports(self, table: str) -> set[int]:
        """The source ports of the flows the kernel's table holds."""
        return {int(slot["sport"][0]) for _i, slot in self.held(table)}

    def set_full(self, table: int, on: bool = True) -> None:
        libbpf.map_update(self.fds["flow_full"], ctypes.c_uint32(table), ctypes.c_uint32(int(on)))

    def full(self, table: int) -> int:
        flag = ctypes.c_uint32(0)
        libbpf.map_lookup(self.fds["flow_full"], table, flag)
        return flag.value

    def untracked(self, per_cpu: list[int]) -> None:
        buf = (ctypes.c_uint64 * (2 * self.ncpus))()
        for cpu, n in enumerate(per_cpu):
            buf[2 * cpu], buf[2 * cpu + 1] = n, 1000 * n
        libbpf.map_update(self.fds["flow_stats"], ctypes.c_uint32(0), buf)


__all__ = ["CLAIMED", "USED", "FlowMaps", "home", "key", "write_slot"]
