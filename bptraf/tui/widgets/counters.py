"""The counters table: every class's rates, share, peak, average and totals; RX beside TX when sent
traffic is counted. The cursor picks the class the second plot shows."""

from __future__ import annotations

from dataclasses import dataclass

from bptraf.counters import Counter
from bptraf.tui.board import Board
from bptraf.tui.widgets.rows import Column, RowTable
from bptraf.units import si

RX_ONLY = (("pps", 7), ("bps", 7), ("share", 6), ("peak pps", 8), ("avg pps", 7), ("packets", 7), ("bytes", 7))
RX_TX = (("RX pps", 7), ("RX bps", 7), ("TX pps", 7), ("TX bps", 7), ("share", 6), ("packets", 7), ("bytes", 7))


@dataclass(frozen=True)
class TableView:
    bytes_mode: bool = False  # B/s instead of bps
    hide_idle: bool = False  # leave out classes with no packet since start (`all` stays)


def cells(board: Board, c: Counter, tx: bool, scale: int) -> tuple[str, ...]:
    i = c.index
    share = f"{board.share(i) * 100:.1f}%"
    totals = (si(board.packets[i]), si(board.bytes[i]))
    if tx:
        rates = (board.pps(i), board.bps(i) / scale, board.tx_pps(i), board.tx_bps(i) / scale)
        return (*(si(v) for v in rates), share, *totals)
    return (si(board.pps(i)), si(board.bps(i) / scale), share, si(board.peak_pps[i]), si(board.avg_pps(i)), *totals)


class CountersTable(RowTable):
    """Rows keyed by counter name; a row is redrawn only when its text changed (idle classes never)."""

    def __init__(self, counters: tuple[Counter, ...], **kw) -> None:
        super().__init__(**kw)
        self.counters = counters
        self._built = False

    def selected(self) -> str:
        """The counter under the cursor (`all` before the table has rows)."""
        return super().selected() or self.counters[0].name

    def show(self, board: Board, view: TableView) -> None:
        tx = board.tx_seen
        unit = "B/s" if view.bytes_mode else "bps"
        self.set_columns([Column("counter", 8, right=False)] + [
            Column(name.replace("bps", unit), w) for name, w in (RX_TX if tx else RX_ONLY)
        ])  # fmt: skip
        scale = 8 if view.bytes_mode else 1
        rows = [
            (c.name, (c.label, *cells(board, c, tx, scale)))
            for c in self.counters
            if c.index == 0 or not (view.hide_idle and board.idle(c.index))
        ]
        # At first the first L3 class is picked, so the second plot is not a copy of the first.
        first = None if self._built else self.counters[min(1, len(self.counters) - 1)].name
        self._built = True
        self.set_rows(rows, keep=first)
