"""The counters table: every class's rates, share, peak, average and totals; RX beside TX when sent
traffic is counted. The cursor picks the class the second plot shows."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from bptraf.counters import Counter
from bptraf.tui.board import Board
from bptraf.tui.widgets.text import KeyTable, right
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


class CountersTable(KeyTable):
    """Rows keyed by counter name; only cells whose text changed are updated (most never do)."""

    def __init__(self, counters: tuple[Counter, ...], **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.counters = counters
        self._layout: tuple = ()
        self._shown: dict[tuple[str, int], str] = {}

    def selected(self) -> str:
        """The counter under the cursor (`all` before the table has rows)."""
        if not self.row_count:
            return self.counters[0].name
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def show(self, board: Board, view: TableView, keep: str | None = None) -> None:
        tx = board.tx_seen
        unit = "B/s" if view.bytes_mode else "bps"
        columns = tuple((name.replace("bps", unit), w) for name, w in (RX_TX if tx else RX_ONLY))
        rows = tuple(c for c in self.counters if c.index == 0 or not (view.hide_idle and board.idle(c.index)))
        layout = (columns, tuple(c.name for c in rows))
        if layout != self._layout:
            # At first the first L3 class is picked, so the second plot is not a copy of the first.
            first = self.counters[min(1, len(self.counters) - 1)].name
            keep = keep or (self.selected() if self._layout else first)
            self.clear(columns=not self._layout or columns != self._layout[0])
            if not self.columns:
                self.add_column(Text("counter"), key="counter", width=8)
                for name, width in columns:
                    self.add_column(right(name), key=name, width=width)
            for c in rows:
                self.add_row(Text(c.label), *([Text("")] * len(columns)), key=c.name)
            self._shown.clear()
            self._layout = layout
            names = [c.name for c in rows]
            self.move_cursor(row=names.index(keep) if keep in names else 0, animate=False)
        scale = 8 if view.bytes_mode else 1
        for c in rows:
            for col, value in enumerate(cells(board, c, tx, scale)):
                if self._shown.get((c.name, col)) != value:
                    self._shown[(c.name, col)] = value
                    self.update_cell(c.name, columns[col][0], right(value))
