"""The kernel's flow tables, read through mmap into numpy rows, without a system call or a Python loop
per flow.

kernel/counters.h keeps IPv4 and IPv6 flows in two arrays of slots (16- and 40-byte keys, then the
counts), open-addressed by a hash of the key, and no timestamps. A flow keeps its slot while it lives,
so this reader matches each read to the last one slot by slot: a slot whose key is unchanged holds the
same flow, whose growth is the difference of its counts. It sees a flow go idle when its count stops
changing, and deletes it by zeroing its slot (the first key word last: the kernel claims a slot by
swapping that word from zero). When a table has no room for a flow, the kernel counts its packets as
untracked and raises a flag, and the least active flows are evicted; a table holding more than
--flows-max flows loses the least active beyond it, so it stays at most half full.

One flow may hold two slots, both within BPTRAF_FLOW_PROBES of each other: two CPUs that inserted it
at once, or a flow whose next packet found, before its slot, a slot freed since. The kernel then adds
to the first of the two in probe order; the reader folds the other one's counts into it, once, and
frees it, so a flow is one row and its counts stay exact.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import mmap
import threading
from collections.abc import Iterator

import numpy as np

from bptraf import libbpf
from bptraf.build import flow_bits
from bptraf.flowarray import FLOW
from bptraf.flows import TableState

# struct bptraf_flow4_key, bptraf_flow6_key and bptraf_flow in kernel/counters.h; ports in network order
KEY4 = np.dtype([("sport", ">u2"), ("dport", ">u2"), ("proto", "u1"), ("slot", "u1"), ("dir", "u1"),
                 ("state", "u1"), ("src", "u1", (4,)), ("dst", "u1", (4,))])  # fmt: skip
KEY6 = np.dtype([("sport", ">u2"), ("dport", ">u2"), ("proto", "u1"), ("slot", "u1"), ("dir", "u1"),
                 ("state", "u1"), ("src", "u1", (16,)), ("dst", "u1", (16,))])  # fmt: skip
VALUE = np.dtype([("packets", "=u8"), ("bytes", "=u8"), ("tx_packets", "=u8"), ("tx_bytes", "=u8")])
USED, CLAIMED = 1, 2  # a slot's state (BPTRAF_FLOW_USED, BPTRAF_FLOW_CLAIMED); 0: empty
STATE_BYTE = 7  # where the state is in a slot, whatever the byte order
PROBES = 8  # BPTRAF_FLOW_PROBES: a flow is within this many slots of its hash's
EVICT_SHARE = 8  # a table without room loses 1/8 of its flows, the least active, per read
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                 0xFF51AFD7ED558CCD], dtype=np.uint64)  # fmt: skip
_READS = itertools.count(1)  # every read in this process has its own serial: no two reads' rows pass for one another


def slot_dtype(key: np.dtype) -> np.dtype:
    """struct bptraf_flow4_slot / bptraf_flow6_slot: the key, then the counts."""
    return np.dtype([*((n, key.fields[n][0]) for n in key.names), *((n, VALUE.fields[n][0]) for n in VALUE.names)])


SLOT4, SLOT6 = slot_dtype(KEY4), slot_dtype(KEY6)


def decode(keys4: np.ndarray, values4: np.ndarray, keys6: np.ndarray, values6: np.ndarray) -> np.ndarray:
    """Both tables' entries (structured arrays of KEY4/KEY6 and VALUE) as one FLOW array, IPv4 first."""
    out = np.zeros(len(keys4) + len(keys6), FLOW)
    _fill(out[: len(keys4)], keys4, values4)
    _fill(out[len(keys4) :], keys6, values6)
    return out


def _fill(out: np.ndarray, keys: np.ndarray, values: np.ndarray) -> None:
    # Addresses are written as 4- and 8-byte words: numpy copies a row's 16 bytes as an array of its
    # own, which costs 6x more.
    for side in ("src", "dst"):
        to = out[side]
        if keys.dtype.fields[side][0].shape == (4,):  # as ::ffff:a.b.c.d
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
    """A 64-bit mix of each row of raw key words: FLOW rows of two reads are matched by it, then by the
    whole key (bptraf.flowarray.growth). Two live flows would have to collide in 64 bits to be
    confused, and then only one of them is taken for new."""
    words = raw.view(np.uint64)
    h = np.zeros(len(words), np.uint64)
    for i in range(words.shape[1]):  # a column at a time: a row-wise product and sum costs 6x more
        h += words[:, i] * _MIX[i]
    return h ^ (h >> np.uint64(29))


class _Table:
    """One kernel flow table, mapped into this process while it is read, and what the last read saw:
    the used slots, in order, and their counts, when each flow was first seen and last changed; which
    slots still hold the flow the last read saw (a slot keeps its flow until this reader frees it: the
    kernel only claims empty slots), and counts folded into a slot from a second slot of the same flow."""

    def __init__(self, fd: int, key: np.dtype, slots: int, tag: int) -> None:
        self.slot_dtype = slot_dtype(key)
        self.slots = slots
        self.kw = key.itemsize // 8  # key words; the counts are the 4 words after them
        self.tag = np.uint64(tag)  # keeps the two tables' hashes apart in FLOW rows
        self._fd, self._size = fd, self.slot_dtype.itemsize * slots
        self.live = np.zeros((0, self.kw + 4), np.uint64)  # the mapping, while mapped()
        self.reset()

    def reset(self) -> None:
        self.idx = np.zeros(0, np.intp)  # no read yet: every used slot holds a new flow
        self.h = self.counts = self.first = self.last = None  # the last read's rows, once there is one
        self.alive = np.zeros(self.slots, bool)
        self.carried: dict[int, np.ndarray] = {}  # slot -> counts folded into it

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """The used slots, and a copy of each. The kernel publishes a slot's state last, and a used slot
        keeps its key until this reader frees it, so each copy, made after its state was seen, is whole."""
        state = self.live.view(np.uint8)[:, STATE_BYTE]
        idx = np.flatnonzero(state == USED)
        return idx, self.live[idx]

    def before(self, idx: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """For the used slots `idx` of a new read, their keys' hashes `h`: whether each holds the flow the
        last read saw there, and that flow's row in the last read (None: the same slots, row for row)."""
        if not len(self.idx):
            return np.zeros(len(idx), bool), None
        if np.array_equal(idx, self.idx):
            return self.alive[idx] & (self.h == h), None
        pos = np.zeros(self.slots, np.intp)
        pos[self.idx] = np.arange(len(self.idx))
        j = pos[idx]
        return self.alive[idx] & (self.h[j] == h), j

    def free(self, slots: np.ndarray) -> None:
        """Zero these slots in the kernel: counts and the other key words first, the first word last, so
        that no program claims a slot still being cleared."""
        if len(slots):
            self.live[slots, 1:] = 0
            self.live[slots, 0] = 0
            self.alive[slots] = False
            for s in slots.tolist() if self.carried else ():
                self.carried.pop(s, None)

    @contextlib.contextmanager
    def mapped(self) -> Iterator[None]:
        """The table mapped (`live`) for one read or clear, and only meanwhile: a mapping counts the
        table's kernel memory in this process's RSS (3.8 MiB at the default --flows-max, 250 MiB at
        the largest), and keeps the table alive. Mapping it costs a fraction of a read."""
        mem = mmap.mmap(self._fd, self._size)
        try:
            self.live = np.frombuffer(mem, np.uint64).reshape(self.slots, self.kw + 4)
            yield
        finally:
            self.live = np.zeros((0, self.kw + 4), np.uint64)
            mem.close()  # fails loudly if a view of it outlived the read


def duplicates(words: np.ndarray, used: np.ndarray, new: np.ndarray, kw: int) -> list[tuple[int, int]]:
    """Pairs (first, second) of used slots that hold the same key, where one of them is among `new` and
    second follows first within PROBES slots, as the kernel probes them."""
    slots = len(words)
    mask = slots - 1
    out = []
    if not len(new):
        return out
    keys = words[new, :kw]
    for d in range(1, min(PROBES, slots)):
        for ahead in (True, False):
            other = (new + d) & mask if ahead else (new - d) & mask
            same = used[other] & np.all(words[other, :kw] == keys, axis=1)
            for i, j in zip(new[same].tolist(), other[same].tolist()):
                out.append((i, j) if ahead else (j, i))
    return out


class FlowTables:
    """Reads the flow tables; tracks when each flow last changed, to age idle ones out."""

    def __init__(self, maps: dict[str, int], capacity: int, ncpus: int, idle_ns: int) -> None:
        slots = 1 << flow_bits(capacity)
        self._tables = (_Table(maps["flows4"], KEY4, slots, 4), _Table(maps["flows6"], KEY6, slots, 6))
        self.capacity = capacity
        self._full_fd = maps["flow_full"]
        self._stats_fd = maps["flow_stats"]
        self._ncpus = ncpus
        self._idle_ns = idle_ns
        self._read_id = 0  # the last read's FLOW "read" value
        self.evicted = 0
        self.refused = 0  # packets of flows refused for want of room (in the kernel's table, over capacity)
        self._lock = threading.Lock()

    def read(self, now_ns: int) -> tuple[np.ndarray, TableState]:
        """Every live flow (a FLOW array, each row with its growth since this object's previous read);
        idle flows are deleted from the kernel instead, and a table without room, or holding more than
        `capacity` flows, loses its least active ones after this read reports them. Thread-safe: the
        TUI's worker and the exporter's scrapes may read at once."""
        with self._lock:
            return self._read(now_ns)

    def _read(self, now_ns: int) -> tuple[np.ndarray, TableState]:
        full = self._full_flags()
        parts = []
        for i, table in enumerate(self._tables):
            with table.mapped():
                parts.append(self._step(table, now_ns, bool(full[i])))
        out = np.zeros(sum(len(p[0]) for p in parts), FLOW)
        start = 0
        for rows, table, columns, _over in parts:
            part = out[start : start + len(rows)]
            start += len(rows)
            flat = np.ascontiguousarray(rows).view(table.slot_dtype).ravel()
            _fill(part, flat, flat)
            for name, column in columns.items():
                part[name] = column
        read_id = next(_READS) << 32 | len(out)
        out["read"], out["since"] = read_id, self._read_id
        self._read_id = read_id
        for i in np.flatnonzero(full):
            self._clear_full(i)
        over = any(p[3] for p in parts)
        return out, TableState(self.evicted, self._untracked(), bool(full.any()) or over)

    def _step(self, table: _Table, now_ns: int, full: bool) -> tuple[np.ndarray, _Table, dict, bool]:
        """Read one table and match each slot to its last read: when each flow was first seen and last
        changed, what it gained; fold a flow's second slot into its first; free the idle (and, from a
        table without room or over capacity, the least active); what is left to report."""
        idx, rows = table.snapshot()
        kw = table.kw
        counts = rows[:, kw:]
        h = key_hash(rows[:, :kw]) ^ table.tag
        # A slot keeps its key until this reader frees it, and its counts never go backwards; a slot where
        # either changed all the same holds a new flow.
        known, j = table.before(idx, h)
        if not known.any():  # the first read, or after a clear: all new
            before, first, changed = counts, np.full(len(idx), now_ns), np.full(len(idx), now_ns)
        elif j is None:
            before, first, changed = table.counts, table.first, table.last
        else:
            before, first, changed = table.counts[j], table.first[j], table.last[j]
        known &= (before[:, 0] <= counts[:, 0]) & (before[:, 2] <= counts[:, 2])
        grown = counts - before
        new = ~known
        if new.any():
            grown[new] = counts[new]
            first = np.where(known, first, now_ns)
        # Changed: more packets either way (bytes never grow alone; a 2-D any() costs 30x more).
        changed = np.where(known & (grown[:, 0] == 0) & (grown[:, 2] == 0), changed, now_ns)
        table.alive[:] = False
        table.alive[idx] = True
        keep = np.ones(len(idx), bool)
        pairs = duplicates(table.live, table.alive, idx[new], kw)
        carried = None  # counts folded in from second slots: none, in all but rare reads
        if table.carried or pairs:
            carried = np.zeros((len(idx), 4), np.uint64)
            for s, c in table.carried.items():
                carried[np.searchsorted(idx, s)] = c
        if pairs:
            at = {s: i for i, s in enumerate(idx.tolist())}
            for a, b in pairs:  # rare: a handful at most
                i, j = at[a], at[b]
                if keep[i] and keep[j]:
                    carried[i] += counts[j] + carried[j]
                    grown[i] += grown[j]
                    first[i] = min(first[i], first[j])
                    changed[i] = max(changed[i], changed[j])
                    keep[j] = False
            table.free(idx[~keep])
            table.carried = {int(idx[i]): carried[i].copy() for i in np.flatnonzero(carried.any(axis=1) & keep)}
        table.idx, table.h, table.counts, table.first, table.last = idx, h, counts, first, changed
        total = counts if carried is None else counts + carried
        idle = keep & (now_ns - changed > self._idle_ns)
        live = keep & ~idle
        # More flows than asked for: the newest beyond the bound are refused, as a full table would have
        # refused them (their packets count as untracked), and the least active make room.
        over = int(live.sum()) - self.capacity
        sent_and_received = total[:, 0] + total[:, 2]
        refused = _least_active(np.zeros(len(idx), np.int64), sent_and_received, live & new, over)
        self.refused += int(sent_and_received[refused].sum())
        gone = idle | refused
        if full or over > 0:  # no room for a flow since the last read, or more flows than asked for
            evict = _least_active(
                changed, counts[:, 0], live & ~refused, self.capacity // EVICT_SHARE - int(idle.sum())
            )
            self.evicted += int(evict.sum())
            gone |= evict
        table.free(idx[gone])
        # An evicted flow is still reported this once (its last packets count); an idle one has none.
        show = live & ~refused
        if not show.all():
            rows, total, grown, h, first, changed = (
                rows[show],
                total[show],
                grown[show],
                h[show],
                first[show],
                changed[show],
            )
        columns = {"h": h, "first_ns": first, "last_ns": changed}
        for i, name in enumerate(VALUE.names):
            if carried is not None:
                columns[name] = total[:, i]
            columns[f"d_{name}"] = grown[:, i]
        return rows, table, columns, over > 0

    def clear(self) -> None:
        """Empty both tables (flows switched off)."""
        with self._lock:
            for i, table in enumerate(self._tables):
                with table.mapped():
                    table.free(np.arange(table.slots))
                table.reset()
                self._clear_full(i)

    def _full_flags(self) -> np.ndarray:
        """Whether each table's program found no room for a flow since the flag was cleared."""
        flags = (ctypes.c_uint32 * 1)(), (ctypes.c_uint32 * 1)()
        for i, flag in enumerate(flags):
            libbpf.map_lookup(self._full_fd, i, flag)
        return np.array([bool(flag[0]) for flag in flags])

    def _clear_full(self, i: int) -> None:
        libbpf.map_update(self._full_fd, ctypes.c_uint32(i), ctypes.c_uint32(0))

    def _untracked(self) -> int:
        buf = (ctypes.c_uint64 * (2 * self._ncpus))()
        libbpf.map_lookup(self._stats_fd, 0, buf)
        return sum(buf[0::2]) + self.refused


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
