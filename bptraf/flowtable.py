"""The kernel's flow tables, read in batches into numpy buffers and decoded without a per-entry Python loop.

kernel/counters.h keeps IPv4 and IPv6 flows in two hash maps (16- and 40-byte keys) and no timestamps:
this reader sees a flow go idle when its count stops changing between reads, deletes idle flows in
batches, and, when a table is full, evicts its least active flows to make room. The kernel counts the
packets of flows that found no room, so a full table is never silent.
"""

from __future__ import annotations

import ctypes
import itertools
import threading

import numpy as np

from bptraf import libbpf
from bptraf.flowarray import FLOW, take
from bptraf.flows import TableState

# struct bptraf_flow4_key, bptraf_flow6_key and bptraf_flow in kernel/counters.h; ports in network order
KEY4 = np.dtype([("src", "u1", (4,)), ("dst", "u1", (4,)), ("sport", ">u2"), ("dport", ">u2"),
                 ("proto", "u1"), ("slot", "u1"), ("dir", "u1"), ("pad", "u1")])  # fmt: skip
KEY6 = np.dtype([("src", "u1", (16,)), ("dst", "u1", (16,)), ("sport", ">u2"), ("dport", ">u2"),
                 ("proto", "u1"), ("slot", "u1"), ("dir", "u1"), ("pad", "u1")])  # fmt: skip
VALUE = np.dtype([("packets", "=u8"), ("bytes", "=u8"), ("tx_packets", "=u8"), ("tx_bytes", "=u8")])
EVICT_SHARE = 8  # a full table loses 1/8 of its flows, the least active, per read
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD], dtype=np.uint64)  # fmt: skip
_READS = itertools.count(1)  # every read in this process has its own serial: no two reads' rows pass for one another


def decode(keys4: np.ndarray, values4: np.ndarray, keys6: np.ndarray, values6: np.ndarray) -> np.ndarray:
    """Both tables' entries (structured arrays of KEY4/KEY6 and VALUE) as one FLOW array, IPv4 first."""
    out = np.zeros(len(keys4) + len(keys6), FLOW)
    _fill(out[: len(keys4)], keys4, values4)
    _fill(out[len(keys4) :], keys6, values6)
    return out


def _fill(out: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
    # Addresses are written as 2-, 4- and 8-byte words: numpy copies a row's 16 bytes as an array of
    # its own, which costs 6x more.
    for side in ("src", "dst"):
        to = out[side]
        if keys.dtype == KEY4:  # as ::ffff:a.b.c.d
            to.view(np.uint16)[:, 5] = 0xFFFF
            to.view(np.uint32)[:, 3] = keys[side].view(np.uint32)[:, 0]
        else:
            for i in range(2):
                to.view(np.uint64)[:, i] = keys[side].view(np.uint64)[:, i]
    for name in ("sport", "dport", "proto", "slot", "dir"):
        out[name] = keys[name]
    for name in VALUE.names:
        out[name] = values[name]


def key_hash(raw: np.ndarray) -> np.ndarray:
    """A 64-bit mix of each row of raw key bytes (rows a multiple of 8 bytes long): flows are matched
    across reads by it, then by the whole key. Two live flows would have to collide in 64 bits to be
    confused, and then only one of them is taken for new."""
    words = raw.view(np.uint64)
    h = np.zeros(len(words), np.uint64)
    for i in range(words.shape[1]):  # a column at a time: a row-wise product and sum costs 6x more
        h += words[:, i] * _MIX[i]
    return h ^ (h >> np.uint64(29))


class _Last:
    """What one table's last read saw, row by row in the kernel's order: the keys (as 64-bit words),
    counts, when each flow was first seen and last changed, whether it is still in the kernel, and,
    once sorted, the key hashes in order."""

    def __init__(self, words: np.ndarray, counts: np.ndarray, h: np.ndarray, first: np.ndarray, last: np.ndarray,
                 alive: np.ndarray, by_hash: tuple[np.ndarray, np.ndarray] | None = None) -> None:  # fmt: skip
        self.words, self.counts, self.h, self.first, self.last, self.alive = words, counts, h, first, last, alive
        self.by_hash = by_hash

    @classmethod
    def empty(cls, words: int) -> _Last:
        none = np.zeros(0, np.int64)
        return cls(np.zeros((0, words), np.uint64), np.zeros((0, 4), np.uint64), none.view(np.uint64), none, none,
                   none > 0)  # fmt: skip

    def match(self, words: np.ndarray, h: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, tuple | None]:
        """For each row of a new read: its row in this one (None: the same rows), whether that is the same
        flow, still in the kernel (a deleted flow that comes back is a new one); and the new read's
        hashes in order, when they were sorted (the next read matches against them)."""
        n, m = len(words), len(self.words)
        if n == m and np.array_equal(words, self.words):  # nothing came or went: the kernel lists it in the same order
            return None, self.alive.copy(), self.by_hash
        if not n or not m:
            return np.zeros(n, np.intp), np.zeros(n, bool), None
        hs, order = self.by_hash or _sorted(self.h)
        mine = _sorted(h)
        at = np.empty(n, np.intp)
        at[mine[1]] = np.minimum(np.searchsorted(hs, mine[0]), m - 1)  # in order: 7x cheaper than at random
        j = order[at]
        known = (hs[at] == h) & self.alive[j]
        theirs = self.words[j]
        for i in range(words.shape[1]):
            known &= theirs[:, i] == words[:, i]
        return j, known, mine


def _sorted(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(h)
    return h[order], order


class _Table:
    """One kernel hash map, the buffers its batch reads land in (two, so that the last read stays whole
    while the next one lands), and what the last read saw."""

    def __init__(self, fd: int, key: np.dtype, capacity: int, tag: int) -> None:
        self.fd = fd
        self.key_dtype = key
        self.capacity = capacity
        self.tag = np.uint64(tag)  # keeps the two tables' hashes apart in FLOW rows
        self._buffers = [(np.zeros(capacity, key), np.zeros(capacity, VALUE)) for _ in range(2)]
        self.last = _Last.empty(key.itemsize // 8)

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        keys, values = self._buffers[0]
        self._buffers.reverse()
        n = libbpf.map_read_batch(self.fd, keys.ctypes.data, values.ctypes.data, self.key_dtype.itemsize,
                                  VALUE.itemsize, self.capacity)  # fmt: skip
        return keys[:n], values[:n]

    def delete(self, keys: np.ndarray) -> None:
        """Delete these keys in batches; a key already gone (a race) is skipped."""
        keys = np.ascontiguousarray(keys)
        while len(keys):
            done = libbpf.map_delete_batch(self.fd, keys.ctypes.data, len(keys))
            keys = keys[done + 1 :]  # the kernel stops at a key already gone: go on after it


class FlowTables:
    """Reads the flow tables; tracks when each flow last changed, to age idle ones out."""

    def __init__(self, maps: dict[str, int], capacity: int, ncpus: int, idle_ns: int) -> None:
        self._tables = (_Table(maps["flows4"], KEY4, capacity, 4), _Table(maps["flows6"], KEY6, capacity, 6))
        self._full_fd = maps["flow_full"]
        self._stats_fd = maps["flow_stats"]
        self._ncpus = ncpus
        self._idle_ns = idle_ns
        self._read_id = 0  # the last read's FLOW "read" value
        self.evicted = 0
        self._lock = threading.Lock()

    def read(self, now_ns: int) -> tuple[np.ndarray, TableState]:
        """Every live flow (a FLOW array, each row with its growth since this object's previous read);
        idle flows are deleted from the kernel instead, and a full table loses its least active
        1/EVICT_SHARE after this read reports them. Thread-safe: the TUI's worker and the exporter's
        scrapes may read at once."""
        with self._lock:
            return self._read(now_ns)

    def _read(self, now_ns: int) -> tuple[np.ndarray, TableState]:
        full = self._full_flags()
        parts = [self._step(table, now_ns, bool(full[i])) for i, table in enumerate(self._tables)]
        out = np.zeros(sum(len(p[0]) for p in parts), FLOW)
        start = 0
        for keys, values, columns in parts:
            rows = out[start : start + len(keys)]
            start += len(keys)
            _fill(rows, keys, values)
            for name, column in columns.items():
                rows[name] = column
        read_id = next(_READS) << 32 | len(out)
        out["read"], out["since"] = read_id, self._read_id
        self._read_id = read_id
        for i in np.flatnonzero(full):
            self._clear_full(i)
        return out, TableState(self.evicted, self._untracked(), bool(full.any()))

    def _step(self, table: _Table, now_ns: int, full: bool) -> tuple[np.ndarray, np.ndarray, dict]:
        """Read one table and match it to its last read: when each flow was first seen and last changed,
        what it gained; delete the idle (and, from a full table, the least active); what is left to report."""
        keys, values = table.read()
        words = keys.view(np.uint64).reshape(len(keys), table.key_dtype.itemsize // 8)
        h = key_hash(words)
        last = table.last
        j, known, by_hash = last.match(words, h)
        counts = values.view(np.uint64).reshape(len(values), 4)  # VALUE as 64-bit words: columns cost less
        if known.any():
            if j is None:  # the same rows as the last read
                before, first, changed = last.counts, last.first, last.last
            else:
                before, first, changed = last.counts[j], last.first[j], last.last[j]
            # A count that went backwards: deleted and created again between the reads, a new flow.
            known &= (before[:, 0] <= counts[:, 0]) & (before[:, 2] <= counts[:, 2])
            same = known & (before[:, 0] == counts[:, 0]) & (before[:, 2] == counts[:, 2])
            first = np.where(known, first, now_ns)
            changed = np.where(same, changed, now_ns)
            grown = counts - before
            if not known.all():
                grown[~known] = counts[~known]
        else:
            first = changed = np.full(len(keys), now_ns, np.int64)
            grown = counts
        idle = now_ns - changed > self._idle_ns
        gone = idle
        if full:  # an insert found no room since the last read
            evict = _least_active(changed, counts[:, 0], ~idle, table.capacity // EVICT_SHARE - int(idle.sum()))
            self.evicted += int(evict.sum())
            gone = idle | evict
        if gone.any():
            table.delete(take(keys, gone))
        table.last = _Last(words, counts, h, first, changed, ~gone, by_hash)
        # An evicted flow is still reported this once (its last packets count); an idle one has none.
        columns = {"h": h ^ table.tag, "first_ns": first, "last_ns": changed}
        for i, name in enumerate(VALUE.names):
            columns[f"d_{name}"] = grown[:, i]
        if idle.any():
            keep = ~idle
            return take(keys, keep), take(values, keep), {name: column[keep] for name, column in columns.items()}
        return keys, values, columns

    def clear(self) -> None:
        """Empty both tables (flows switched off)."""
        with self._lock:
            for i, table in enumerate(self._tables):
                keys, _values = table.read()
                table.delete(keys)
                table.last = _Last.empty(table.key_dtype.itemsize // 8)
                self._clear_full(i)

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


def _least_active(last_ns: np.ndarray, packets: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """A mask of the n candidates whose count has not changed for the longest (fewest packets first)."""
    out = np.zeros(len(last_ns), bool)
    idx = np.flatnonzero(candidates)
    if n <= 0 or not len(idx):
        return out
    if n < len(idx):
        order = np.lexsort((packets[idx], last_ns[idx]))
        idx = idx[order[:n]]
    out[idx] = True
    return out
