"""Flows as numpy rows: a whole kernel table goes down the pipeline without a Python object per flow.

A table of 65,536 flows costs a few ms as arrays and hundreds of ms as records, so records are made
only for the rows a renderer shows: the top N, or the groups. bptraf.flows.top() and group() hand
these collections their own work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from bptraf.flows import PROTOCOLS, Flow, FlowRate, Group, address
from bptraf.rates import per_second

# Sort keys, largest first, as bptraf.flows.top() has them: (primary, tie-break)
_SORTS = {"bps": ("bps", "bytes"), "pps": ("pps", "packets"), "total": ("bytes", "bps")}


def _flow(row) -> Flow:
    return Flow(int(row["slot"]), int(row["proto"]), address(row["src"].tobytes()), int(row["sport"]),
                address(row["dst"].tobytes()), int(row["dport"]), int(row["packets"]), int(row["bytes"]),
                int(row["first_ns"]), int(row["last_ns"]), int(row["dir"]))  # fmt: skip


class FlowArray(Sequence):
    """Every flow of one read (bptraf.flowtable.FLOW rows, each with its growth since the last read)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return FlowArray(self.rows[i]) if isinstance(i, slice) else _flow(self.rows[i])

    def rates(self, slot: int, period_s: float) -> FlowRates:
        """One interface's flows with their rates over the interval."""
        return FlowRates(self.rows[self.rows["slot"] == slot], period_s)


class FlowRates(Sequence):
    """One interface's flows in one interval, as rows; a FlowRate is made for a row when asked for."""

    def __init__(self, rows: np.ndarray, period_s: float) -> None:
        self.rows = rows
        self.pps = np.broadcast_to(per_second(rows["d_packets"].astype(float), period_s), len(rows))
        self.bps = np.broadcast_to(per_second(rows["d_bytes"].astype(float), period_s, 8), len(rows))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row = self.rows[i]
        return FlowRate(_flow(row), int(row["d_packets"]), int(row["d_bytes"]), float(self.pps[i]), float(self.bps[i]))

    def __iter__(self) -> Iterator[FlowRate]:
        return (self[i] for i in range(len(self)))

    def _column(self, name: str) -> np.ndarray:
        return {"bps": self.bps, "pps": self.pps}.get(name, self.rows[name] if name in ("bytes", "packets") else None)

    def top(self, n: int, by: str = "bps") -> list[FlowRate]:
        """The n biggest, as bptraf.flows.top() orders them (ties broken by the flow's key fields)."""
        first, second = _SORTS[by]
        r = self.rows
        # lexsort sorts by the last key first; negate to put the largest first.
        order = np.lexsort((r["dport"], r["sport"], r["proto"], r["dir"],
                            -self._column(second).astype(float), -self._column(first).astype(float)))  # fmt: skip
        return [self[int(i)] for i in order[:n]]

    def group(self, by: str) -> list[Group]:
        """Sums by source host, destination host or destination port (`proto/port`)."""
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
        sums = [total(r["d_packets"]), total(r["d_bytes"]), total(self.pps), total(self.bps), total(r["bytes"])]
        out = []
        for i, name in enumerate(names.tolist()):
            label = f"{PROTOCOLS.get(name >> 16, str(name >> 16))}/{name & 0xFFFF}" if by == "port" else address(name)
            p, b, pps, bps, tb = (s[i] for s in sums)
            out.append(Group(label, int(count[i]), int(p), int(b), float(pps), float(bps), int(tb)))
        return out
