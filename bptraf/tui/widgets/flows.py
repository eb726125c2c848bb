"""The flows table: every flow of the last interval (or flows summed by host or port), sorted, and
scrolled with the keyboard (↑/↓, PageUp/PageDown, Home/End) once it has focus."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget

from bptraf.flows import SORT_LABELS, FlowRate, group, top
from bptraf.tui.widgets.rows import Column, RowTable
from bptraf.units import si
from bptraf.writers import endpoint

MAX_ROWS = 1000  # rows kept in the table: enough to scroll through, cheap to refresh


@dataclass(frozen=True)
class FlowsView:
    sort: str  # a bptraf.flows.SORT_KEYS order: both ways, received (rx_) or sent (tx_); or total bytes
    grouping: str  # flow | src | dst | port
    note: str = ""  # why there is no table: off, drop mode, waiting
    bytes_mode: bool = False  # B/s instead of bps, as `b` says for the whole screen
    limit: int | None = None  # --top: rows shown at most (else every flow, scrolled)
    evicted: int = 0  # flows evicted from a full table since start: per-flow totals undercount
    tx: bool = False  # what the host sends is counted: a row shows both ways, <= received and => sent


NAMES = ("proto", "source", "destination", "src", "dst", "port")  # the columns that are not numbers


def sort_label(view: FlowsView) -> str:
    """The order as the title says it: without TX there is one direction, so no arrows."""
    return SORT_LABELS[view.sort] if view.tx else {"total": "total bytes"}.get(view.sort, view.sort)


def _units(view: FlowsView) -> tuple[str, str, Callable[[float, float], float], Callable[[float, float], float]]:
    """With TX: the unit the <= and => pair shows (the sort's: pps, else bps or B/s), the other unit, shown
    both ways, and how each is read off (rate, tx rate) from a row's pps and bps."""
    unit, scale = ("B/s", 8) if view.bytes_mode else ("bps", 1)
    if view.sort.endswith("pps"):
        return "pps", unit, (lambda pps, _bps: pps), (lambda _pps, bps: bps / scale)
    return unit, "pps", (lambda _pps, bps: bps / scale), (lambda pps, _bps: pps)


def rows(flows: Sequence[FlowRate], view: FlowsView, name: Callable[[str], str] = str) -> tuple[tuple, list]:
    """Column names, then rows of plain strings (never markup: an address is text). With TX on, a row is a
    conversation: `<=` what came from source, `=>` what went back, then the other unit and bytes both ways."""
    if view.grouping == "flow":
        shown = top(flows, view.limit or MAX_ROWS, view.sort)
        head = ("proto", "source", "destination")
        names = [(r.flow.proto_name, endpoint(name(r.flow.src), r.flow.sport), endpoint(name(r.flow.dst), r.flow.dport))
                 for r in shown]  # fmt: skip
        totals = [r.flow.bytes + r.flow.tx_bytes for r in shown]
    else:
        shown = sorted(group(flows, view.grouping), key=lambda g: (-g.value(view.sort), g.name))
        shown = shown[: view.limit or MAX_ROWS]
        label = name if view.grouping in ("src", "dst") else str
        head = (view.grouping, "flows")
        names = [(label(g.name), str(g.flows)) for g in shown]
        totals = [g.total_bytes + g.tx_total_bytes for g in shown]
    if not view.tx:
        unit, scale = ("B/s", 8) if view.bytes_mode else ("bps", 1)
        cols = (*head, "pps", unit, "bytes")
        nums = [(si(r.pps), si(r.bps / scale)) for r in shown]
    else:
        pair, other, one, both = _units(view)
        cols = (*head, f"<= {pair}", f"=> {pair}", other, "bytes")
        nums = [
            (si(one(r.pps, r.bps)), si(one(r.tx_pps, r.tx_bps)), si(both(r.pps, r.bps) + both(r.tx_pps, r.tx_bps)))
            for r in shown
        ]
    return cols, [(*n, *v, si(t)) for n, v, t in zip(names, nums, totals)]


class FlowsTitle(Widget):
    DEFAULT_CSS = "FlowsTitle { height: 1; }"
    text: reactive[Text] = reactive(Text(""), layout=False)

    def render(self) -> Text:
        return self.text


def columns(cols: tuple[str, ...], found: list[tuple[str, ...]], width: int = 0) -> list[Column]:
    """Numbers 8 wide (flow counts 5); names as wide as the widest shown (an IPv6 endpoint takes up
    to 47), narrowed, widest first, until the row fits `width` (0: no limit); a cut name ends in `…`.
    Before a name is cut, numbers give up their spare column (si() writes at most 7 characters)."""
    fixed = {i: (8 if name != "flows" else 5) for i, name in enumerate(cols) if name not in NAMES}
    names = {
        i: min(max(max((len(r[i]) for r in found), default=0), len(name)), 47)
        for i, name in enumerate(cols)
        if i not in fixed
    }
    if width:
        # line() puts one space in front and two between columns.
        room = width - 1 - 2 * (len(cols) - 1) - sum(fixed.values())
        if sum(names.values()) > room:
            for i in fixed:
                if fixed[i] == 8 and max((len(r[i]) for r in found), default=0) <= 7 and len(cols[i]) <= 7:
                    fixed[i] = 7
                    room += 1
        while sum(names.values()) > room:
            widest = max(names, key=lambda i: (names[i], -i))
            if names[widest] <= max(len(cols[widest]), 6):
                break  # no narrower without losing the header: the row is cut at the edge
            names[widest] -= 1
    return [Column(n, fixed[i]) if i in fixed else Column(n, names[i], right=False) for i, n in enumerate(cols)]


class Flows(Vertical):
    """Title plus table; the cursor stays on its row (by position) as the flows change."""

    def compose(self) -> ComposeResult:
        yield FlowsTitle()
        yield RowTable()

    def show(self, flows: Sequence[FlowRate] | None, view: FlowsView, name: Callable[[str], str] = str) -> None:
        title = self.query_one(FlowsTitle)
        table = self.query_one(RowTable)
        if flows is None:
            title.text = Text.assemble(("flows ", "bold"), view.note)
            if table.display:
                table.display = False
            return
        if not table.display:
            table.display = True
        title.text = Text.assemble(
            ("flows ", "bold"),
            f"{len(flows)} active · by {view.grouping}, sorted by {sort_label(view)} (s sort, g group)",
            (f"  table full: {view.evicted} evicted", "bold yellow") if view.evicted else "",
        )
        cols, found = rows(flows, view, name)
        table.set_columns(columns(cols, found, self.size.width))
        table.set_rows([(str(i), r) for i, r in enumerate(found)])
