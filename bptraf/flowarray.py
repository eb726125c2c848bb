"""Flows as numpy rows: a whole kernel table goes down the pipeline without a Python object per flow.

A table of 65,536 flows costs a few ms as arrays and hundreds of ms as records, so records are made
only for the rows a renderer shows: the top N, or the groups. bptraf.flows.top() and group() hand
these collections their own work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from bptraf.flows import PROTOCOLS, SORTS, Flow, FlowRate, Group, address
from bptraf.rates import per_second

# One decoded row: addresses as 16 bytes (IPv4 as ::ffff:a.b.c.d), ports in host order. Aligned (one byte
# of padding after dir): numpy copies aligned columns in and out of the rows at twice the speed.
FLOW = np.dtype([("src", "u1", (16,)), ("dst", "u1", (16,)), ("sport", "=u2"), ("dport", "=u2"), ("proto", "u1"),
                 ("slot", "u1"), ("dir", "u1"), ("packets", "=u8"), ("bytes", "=u8"), ("first_ns", "=i8"),
                 ("last_ns", "=i8"), ("h", "=u8"), ("d_packets", "=u8"), ("d_bytes", "=u8"), ("tx_packets", "=u8"),
                 ("tx_bytes", "=u8"), ("d_tx_packets", "=u8"), ("d_tx_bytes", "=u8"), ("read", "=u8"),
                 ("since", "=u8")], align=True)  # fmt: skip
# read: which read made the row (its serial << 32 | its row count); since: the `read` of the earlier read
# that d_* count from (0: none, d_* are the whole counts). bptraf.flowtable fills both.


def take(rows: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """rows[which] (an index or a mask; None: a copy of all), copied as whole rows of bytes: numpy copies
    a struct with sub-arrays field by field, 6 to 12 times slower."""
    raw = np.ascontiguousarray(rows).view(np.dtype((np.void, rows.dtype.itemsize)))
    return (raw.copy() if which is None else raw[which]).view(rows.dtype)


# What makes a flow itself: its key as FLOW has it (the addresses as 64-bit words), and when it was first seen.
_IDENT = ("sport", "dport", "proto", "slot", "dir", "first_ns")


def same_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each row of `a` is the same flow as the row of `b` beside it (FLOW rows)."""
    out = np.ones(len(a), bool)
    for side in ("src", "dst"):
        x, y = a[side].view(np.uint64), b[side].view(np.uint64)
        for i in range(2):
            out &= x[:, i] == y[:, i]
    for name in _IDENT:
        out &= a[name] == b[name]
    return out


def growth(prev: np.ndarray | None, cur: np.ndarray) -> np.ndarray:
    """`cur` with d_packets, d_bytes, d_tx_packets and d_tx_bytes: each flow's growth since `prev` (an earlier
    read of the same table), matched by key hash, then the whole key and when the flow was first seen; all
    of it for a flow new since then, or one deleted and created again (first seen later, or a count that
    went backwards, as bptraf.rates.delta has it). When `prev` is the read that `cur` was counted from
    (one reader: the usual case), `cur` already has them."""
    if prev is not None and len(prev) and len(cur):
        read = int(prev["read"][0])
        if read and int(cur["since"][0]) == read and len(prev) == read & 0xFFFFFFFF:
            return cur
    out = take(cur)
    known = np.zeros(len(cur), bool)
    if prev is not None and len(prev) and len(cur):
        order = np.argsort(prev["h"])
        ph = prev["h"][order]
        mine = np.argsort(cur["h"])
        at = np.empty(len(cur), np.intp)
        at[mine] = np.minimum(np.searchsorted(ph, cur["h"][mine]), len(ph) - 1)  # in order: 7x cheaper
        before = take(prev, order[at])
        known = (ph[at] == cur["h"]) & same_flow(before, cur)
        known &= (before["packets"] <= cur["packets"]) & (before["tx_packets"] <= cur["tx_packets"])
        out["since"] = prev["read"][0]
    else:
        before = cur
        out["since"] = 0
    for name in ("packets", "bytes", "tx_packets", "tx_bytes"):
        out[f"d_{name}"] = np.where(known, cur[name] - before[name], cur[name])
    return out


def first_rows(columns: list[np.ndarray], n: int) -> np.ndarray:
    """The indexes of the n rows that come first when sorted by `columns` (the first one first, the next
    breaking its ties, and so on, then the row order), as np.lexsort(columns[::-1])[:n] has them, but
    sorting only the rows that can be among them: a top 10 of 65,536 flows costs 4x less."""
    size = len(columns[0])
    if n <= 0:
        return np.zeros(0, np.intp)
    if n >= size:
        return np.lexsort(columns[::-1])[:n]
    rows = None  # the rows still tied at the n-th place: all of them at first
    sure = []  # rows ahead of the n-th place
    need = n
    for column in columns:
        values = column if rows is None else column[rows]
        if values.min() == values.max():  # all tied here: the next column decides
            continue
        nth = np.partition(values, need - 1)[need - 1]
        ahead, tied = values < nth, values == nth
        idx = np.arange(size) if rows is None else rows
        sure.append(idx[ahead])
        rows, need = idx[tied], need - int(ahead.sum())
        if len(rows) <= need:
            break
    tail = np.arange(size)[:need] if rows is None else rows[:need]  # still tied: the first rows in order
    chosen = np.sort(np.concatenate([*sure, tail]))
    return chosen[np.lexsort([c[chosen] for c in columns[::-1]])]


def _flow(row) -> Flow:
    return Flow(int(row["slot"]), int(row["proto"]), address(row["src"].tobytes()), int(row["sport"]),
                address(row["dst"].tobytes()), int(row["dport"]), int(row["packets"]), int(row["bytes"]),
                int(row["first_ns"]), int(row["last_ns"]), int(row["dir"]), int(row["tx_packets"]),
                int(row["tx_bytes"]))  # fmt: skip


class FlowArray(Sequence):
    """Every flow of one read (bptraf.flowtable.FLOW rows, each with its growth since the last read)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return FlowArray(self.rows[i]) if isinstance(i, slice) else _flow(self.rows[i])

    def since(self, prev: FlowArray | None) -> FlowArray:
        """These flows with what each gained since `prev`, this consumer's previous read."""
        return FlowArray(growth(prev.rows if prev is not None else None, self.rows))

    def rates(self, slot: int, period_s: float) -> FlowRates:
        """One interface's flows with their rates over the interval."""
        mine = self.rows["slot"] == slot
        return FlowRates(self.rows if mine.all() else take(self.rows, mine), period_s)  # one interface: no copy


class FlowRates(Sequence):
    """One interface's conversations in one interval, as rows; a FlowRate is made for a row when asked for."""

    def __init__(self, rows: np.ndarray, period_s: float) -> None:
        self.rows = rows

        def rate(name: str, scale: int = 1) -> np.ndarray:
            return np.broadcast_to(per_second(rows[name].astype(float), period_s, scale), len(rows))

        self.pps, self.bps = rate("d_packets"), rate("d_bytes", 8)
        self.tx_pps, self.tx_bps = rate("d_tx_packets"), rate("d_tx_bytes", 8)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row = self.rows[i]
        return FlowRate(_flow(row), int(row["d_packets"]), int(row["d_bytes"]), float(self.pps[i]), float(self.bps[i]),
                        int(row["d_tx_packets"]), int(row["d_tx_bytes"]), float(self.tx_pps[i]),
                        float(self.tx_bps[i]))  # fmt: skip

    def __iter__(self) -> Iterator[FlowRate]:
        return (self[i] for i in range(len(self)))

    def _column(self, name: str) -> np.ndarray:
        rates = {"pps": self.pps, "bps": self.bps, "tx_pps": self.tx_pps, "tx_bps": self.tx_bps}
        return rates[name] if name in rates else self.rows[name].astype(float)

    def _sum(self, names: tuple[str, ...]) -> np.ndarray:
        return sum((self._column(n) for n in names[1:]), self._column(names[0]))

    def top(self, n: int, by: str = "bps") -> list[FlowRate]:
        """The n biggest, as bptraf.flows.top() orders them (ties broken by the flow's key fields)."""
        first, second = SORTS[by]
        r = self.rows
        # negated to put the largest first
        order = first_rows([-self._sum(first), -self._sum(second), r["dir"], r["proto"], r["sport"], r["dport"]], n)
        return [self[int(i)] for i in order]

    def group(self, by: str) -> list[Group]:
        """Sums both ways by source host, destination host or destination port (`proto/port`)."""
        r = self.rows
        if not len(r):
            return []
        if by == "port":
            ident = r["proto"].astype(np.uint32) << 16 | r["dport"]
        else:
            ident = np.ascontiguousarray(r[by]).view("V16").ravel()
        names, inverse = np.unique(ident, return_inverse=True)
        inverse = inverse.ravel()

        def total(values: np.ndarray) -> np.ndarray:
            return np.bincount(inverse, weights=values.astype(float), minlength=len(names))

        count = np.bincount(inverse, minlength=len(names))
        sides = (
            (r["d_packets"], r["d_bytes"], self.pps, self.bps, r["bytes"]),
            (r["d_tx_packets"], r["d_tx_bytes"], self.tx_pps, self.tx_bps, r["tx_bytes"]),
        )
        sums = [total(v) for side in sides for v in side]
        out = []
        for i, name in enumerate(names.tolist()):
            label = f"{PROTOCOLS.get(name >> 16, str(name >> 16))}/{name & 0xFFFF}" if by == "port" else address(name)
            p, b, pps, bps, tb, tp, tbb, tpps, tbps, ttb = (s[i] for s in sums)
            out.append(Group(label, int(count[i]), int(p), int(b), float(pps), float(bps), int(tb),
                             int(tp), int(tbb), float(tpps), float(tbps), int(ttb)))  # fmt: skip
        return out
