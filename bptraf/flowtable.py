"""The kernel's flow tables, read in batches into numpy buffers and decoded without a per-entry Python loop.

kernel/counters.h keeps IPv4 and IPv6 flows in two hash maps (16- and 40-byte keys) and no timestamps:
this reader sees a flow go idle when its count stops changing between reads, deletes idle flows in
batches, and, when a table is full, evicts its least active flows to make room. The kernel counts the
packets of flows that found no room, so a full table is never silent.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from bptraf import libbpf
from bptraf.flowarray import FLOW, ident
from bptraf.flows import TableState

# struct bptraf_flow4_key, bptraf_flow6_key and bptraf_flow in kernel/counters.h; ports in network order
KEY4 = np.dtype([("src", "u1", (4,)), ("dst", "u1", (4,)), ("sport", ">u2"), ("dport", ">u2"),
                 ("proto", "u1"), ("slot", "u1"), ("dir", "u1"), ("pad", "u1")])  # fmt: skip
KEY6 = np.dtype([("src", "u1", (16,)), ("dst", "u1", (16,)), ("sport", ">u2"), ("dport", ">u2"),
                 ("proto", "u1"), ("slot", "u1"), ("dir", "u1"), ("pad", "u1")])  # fmt: skip
VALUE = np.dtype([("packets", "=u8"), ("bytes", "=u8"), ("tx_packets", "=u8"), ("tx_bytes", "=u8")])
# A flow as the last read saw it; kept sorted by key hash.
_SEEN = np.dtype([("h", "=u8"), ("ident", "V40"), ("packets", "=u8"), ("tx_packets", "=u8"), ("first_ns", "=i8"),
                  ("last_ns", "=i8")])  # fmt: skip
EVICT_SHARE = 8  # a full table loses 1/8 of its flows, the least active, per read
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD], dtype=np.uint64)  # fmt: skip


def decode(keys4: np.ndarray, values4: np.ndarray, keys6: np.ndarray, values6: np.ndarray) -> np.ndarray:
    """Both tables' entries (structured arrays of KEY4/KEY6 and VALUE) as one FLOW array, IPv4 first."""
    n4, n6 = len(keys4), len(keys6)
    out = np.zeros(n4 + n6, FLOW)
    v4, v6 = out[:n4], out[n4:]
    for side in ("src", "dst"):
        v4[side][:, 10:12] = 0xFF
        v4[side][:, 12:] = keys4[side]
        v6[side] = keys6[side]
    for part, keys, values in ((v4, keys4, values4), (v6, keys6, values6)):
        for name in ("sport", "dport", "proto", "slot", "dir"):
            part[name] = keys[name]
        for name in VALUE.names:
            part[name] = values[name]
    return out


def key_hash(raw: np.ndarray) -> np.ndarray:
    """A 64-bit mix of each row of raw key bytes (rows a multiple of 8 bytes long): flows are matched
    across reads by it, to tell which stopped changing. Two live flows would have to collide in 64
    bits to be confused, and then only their idle timers mix up, never their counts."""
    words = raw.view(np.uint64)
    h = (words * _MIX[: words.shape[1]]).sum(axis=1, dtype=np.uint64)
    return h ^ (h >> np.uint64(29))


class _Table:
    """One kernel hash map and the buffers its batch reads land in."""

    def __init__(self, fd: int, key: np.dtype, capacity: int, tag: int) -> None:
        self.fd = fd
        self.key_dtype = key
        self.capacity = capacity
        self.tag = np.uint64(tag)  # keeps the two tables' hashes apart
        self.keys = np.zeros(capacity, key)
        self.values = np.zeros(capacity, VALUE)

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        n = libbpf.map_read_batch(self.fd, self.keys.ctypes.data, self.values.ctypes.data, self.key_dtype.itemsize,
                                  VALUE.itemsize, self.capacity)  # fmt: skip
        return self.keys[:n], self.values[:n]

    def hashes(self, keys: np.ndarray) -> np.ndarray:
        raw = np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), self.key_dtype.itemsize)
        return key_hash(raw) ^ self.tag

    def delete(self, keys: np.ndarray) -> int:
        if not len(keys):
            return 0
        keys = np.ascontiguousarray(keys)
        done = libbpf.map_delete_batch(self.fd, keys.ctypes.data, len(keys))
        for key in keys[done + 1 :]:  # the kernel stops at a key already gone (a race): the rest one by one
            libbpf.map_delete(self.fd, key.tobytes())
        return len(keys)


class FlowTables:
    """Reads the flow tables; tracks when each flow last changed, to age idle ones out."""

    def __init__(self, maps: dict[str, int], capacity: int, ncpus: int, idle_ns: int) -> None:
        self._tables = (_Table(maps["flows4"], KEY4, capacity, 4), _Table(maps["flows6"], KEY6, capacity, 6))
        self._full_fd = maps["flow_full"]
        self._stats_fd = maps["flow_stats"]
        self._ncpus = ncpus
        self._idle_ns = idle_ns
        self._seen = np.zeros(0, _SEEN)
        self._order = np.zeros(0, np.intp)
        self.evicted = 0
        self._lock = threading.Lock()

    def read(self, now_ns: int) -> tuple[np.ndarray, TableState]:
        """Every live flow (a FLOW array); idle flows are deleted from the kernel instead, and a full
        table loses its least active 1/EVICT_SHARE after this read reports them. Thread-safe: the
        TUI's worker and the exporter's scrapes may read at once."""
        with self._lock:
            return self._read(now_ns)

    def _read(self, now_ns: int) -> tuple[np.ndarray, TableState]:
        parts = [t.read() for t in self._tables]
        flows = decode(parts[0][0], parts[0][1], parts[1][0], parts[1][1])
        h = np.concatenate([t.hashes(k) for t, (k, _v) in zip(self._tables, parts)])
        self._stamp(flows, h, now_ns)
        keep = np.ones(len(flows), bool)
        gone = np.zeros(len(flows), bool)
        full = self._full_flags()
        start = 0
        for i, (table, (keys, _values)) in enumerate(zip(self._tables, parts)):
            rows = slice(start, start + len(keys))
            start += len(keys)
            idle = now_ns - flows["last_ns"][rows] > self._idle_ns
            evict = np.zeros(len(keys), bool)
            if full[i]:  # an insert found no room since the last read
                evict = _least_active(flows[rows], ~idle, table.capacity // EVICT_SHARE - int(idle.sum()))
                self.evicted += int(evict.sum())
            table.delete(keys[idle | evict])
            gone[rows] = idle | evict
            # An evicted flow is still reported this once (its last packets count); an idle one has none.
            keep[rows] = ~idle
            if full[i]:
                self._clear_full(i)
        self._forget(gone)
        return flows[keep], TableState(self.evicted, self._untracked(), bool(full.any()))

    def clear(self) -> None:
        """Empty both tables (flows switched off)."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        for table in self._tables:
            keys, _values = table.read()
            table.delete(keys.copy())
        for i in range(len(self._tables)):
            self._clear_full(i)
        self._seen = np.zeros(0, _SEEN)

    def _stamp(self, flows: np.ndarray, h: np.ndarray, now_ns: int) -> None:
        """Match each flow to this reader's last read (by key hash, then the whole key): when a read
        first saw it (first_ns) and first saw its count as it is now (last_ns)."""
        order = np.argsort(h, kind="stable")
        cur = np.zeros(len(flows), _SEEN)
        cur["h"] = h[order]
        cur["ident"] = ident(flows)[order]
        for name in ("packets", "tx_packets"):
            cur[name] = flows[name][order]
        seen = self._seen
        if len(seen):
            at = np.minimum(np.searchsorted(seen["h"], cur["h"]), len(seen) - 1)
            before = seen[at]
            known = (before["h"] == cur["h"]) & (before["ident"] == cur["ident"])
            # A hash shared by two flows of one read would match the wrong one: a 2^-64 chance, and then
            # the flow counts from zero rather than take another's count.
            known &= (before["packets"] <= cur["packets"]) & (before["tx_packets"] <= cur["tx_packets"])
        else:
            before, known = cur, np.zeros(len(cur), bool)
        cur["first_ns"] = np.where(known, before["first_ns"], now_ns)
        same = (before["packets"] == cur["packets"]) & (before["tx_packets"] == cur["tx_packets"])
        cur["last_ns"] = np.where(known & same, before["last_ns"], now_ns)
        flows["h"] = h
        flows["first_ns"][order] = cur["first_ns"]
        flows["last_ns"][order] = cur["last_ns"]
        self._seen, self._order = cur, order

    def _forget(self, gone: np.ndarray) -> None:
        """Drop deleted flows from the state (`gone` is in read order; the state is in hash order)."""
        if gone.any():
            self._seen = self._seen[~gone[self._order]]

    def _full_flags(self) -> np.ndarray:
        out = np.zeros(len(self._tables), bool)
        for i in range(len(self._tables)):
            flag = ctypes.c_uint32(0)
            libbpf.map_lookup(self._full_fd, i, flag)
            out[i] = bool(flag.value)
        return out

    def _clear_full(self, i: int) -> None:
        libbpf.map_update(self._full_fd, ctypes.c_uint32(i), ctypes.c_uint32(0))

    def _untracked(self) -> int:
        buf = (ctypes.c_uint64 * (2 * self._ncpus))()
        libbpf.map_lookup(self._stats_fd, 0, buf)
        return sum(buf[0::2])


def _least_active(flows: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """A mask of the n candidates whose count has not changed for the longest (fewest packets first)."""
    out = np.zeros(len(flows), bool)
    idx = np.flatnonzero(candidates)
    if n <= 0 or not len(idx):
        return out
    if n < len(idx):
        order = np.lexsort((flows["packets"][idx], flows["last_ns"][idx]))
        idx = idx[order[:n]]
    out[idx] = True
    return out
