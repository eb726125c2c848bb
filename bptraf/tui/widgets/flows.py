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

from bptraf.flows import FlowRate, group, top
from bptraf.tui.widgets.rows import Column, RowTable
from bptraf.units import si
from bptraf.writers import endpoint

MAX_ROWS = 1000  # rows kept in the table: enough to scroll through, cheap to refresh


@dataclass(frozen=True)
class FlowsView:
    sort: str  # bps | pps | total
    grouping: str  # flow | src | dst | port
    note: str = ""  # why there is no table: off, drop mode, waiting
    bytes_mode: bool = False  # B/s instead of bps, as `b` says for the whole screen
    limit: int | None = None  # --top: rows shown at most (else every flow, scrolled)
    evicted: int = 0  # flows evicted from a full table since start: per-flow totals undercount


def rows(flows: Sequence[FlowRate], view: FlowsView, name: Callable[[str], str] = str) -> tuple[tuple, list]:
    """Column names, then rows of plain strings (never markup: an address is text)."""
    unit, scale = ("B/s", 8) if view.bytes_mode else ("bps", 1)
    if view.grouping == "flow":
        cols = ("proto", "source", "destination", "pps", unit, "bytes")
        found = [
            (r.flow.proto_name, endpoint(name(r.flow.src), r.flow.sport), endpoint(name(r.flow.dst), r.flow.dport),
             si(r.pps), si(r.bps / scale), si(r.flow.bytes))
            for r in top(flows, view.limit or MAX_ROWS, view.sort)
        ]  # fmt: skip
        return cols, found
    keyfn = {"bps": lambda g: g.bps, "pps": lambda g: g.pps, "total": lambda g: g.total_bytes}[view.sort]
    groups = sorted(group(flows, view.grouping), key=lambda g: (-keyfn(g), g.name))[: view.limit or MAX_ROWS]
    label = name if view.grouping in ("src", "dst") else str
    cols = (view.grouping, "flows", "pps", unit, "bytes")
    return cols, [(label(g.name), str(g.flows), si(g.pps), si(g.bps / scale), si(g.total_bytes)) for g in groups]


class FlowsTitle(Widget):
    DEFAULT_CSS = "FlowsTitle { height: 1; }"
    text: reactive[Text] = reactive(Text(""), layout=False)

    def render(self) -> Text:
        return self.text


def columns(cols: tuple[str, ...], found: list[tuple[str, ...]], width: int = 0) -> list[Column]:
    """Numbers 8 wide (flow counts 5); names as wide as the widest shown (an IPv6 endpoint takes up
    to 47), narrowed, widest first, until the row fits `width` (0: no limit); a cut name ends in `…`."""
    fixed = {i: (8 if name != "flows" else 5) for i, name in enumerate(cols) if i >= len(cols) - 3 or name == "flows"}
    names = {
        i: min(max(max((len(r[i]) for r in found), default=0), len(name)), 47)
        for i, name in enumerate(cols)
        if i not in fixed
    }
    if width:
        # line() puts one space in front and two between columns.
        room = width - 1 - 2 * (len(cols) - 1) - sum(fixed.values())
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
            f"{len(flows)} active · by {view.grouping}, sorted by {view.sort} (s sort, g group)",
            (f"  table full: {view.evicted} evicted", "bold yellow") if view.evicted else "",
        )
        cols, found = rows(flows, view, name)
        table.set_columns(columns(cols, found, self.size.width))
        table.set_rows([(str(i), r) for i, r in enumerate(found)])
