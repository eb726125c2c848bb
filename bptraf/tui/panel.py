"""One interface's page: the link line, counters, per-CPU and size bars, kernel view, plots and flows.

The panel hands each widget its part of a Board; it reads nothing itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from bptraf.flows import FlowRate
from bptraf.tui.board import WINDOW_S, Board
from bptraf.tui.sysinfo import LinkInfo
from bptraf.tui.widgets.counters import CountersTable, TableView
from bptraf.tui.widgets.flows import Flows, FlowsView
from bptraf.tui.widgets.history import Plot, Series
from bptraf.tui.widgets.kernel import Kernel, KernelView
from bptraf.tui.widgets.percpu import PerCpu, lines_needed
from bptraf.tui.widgets.rows import RowTable
from bptraf.tui.widgets.sizes import Sizes

MIN_TABLE = 4  # the header and three rows; the cursor scrolls the rest
KERNEL_LINES = 2  # the kernel view when narrow: RX and TX, then errors
HISTORY_WANT = 10  # two rows of plots of 5 lines: title, three of graph, the time axis
FLOWS_WANT = 6


@dataclass(frozen=True)
class Parts:
    table: CountersTable
    kernel: Kernel
    percpu: tuple[PerCpu, ...]  # none for a replayed log
    sizes: Sizes | None
    flows: Flows
    plots: dict[tuple[str, str], Plot]  # ("all" | "sel", "pps" | "bps")
    col_sel: Widget


@dataclass(frozen=True)
class PanelView:
    """How the user asked to see things: units, hidden rows, whether sizes are on, the flows view."""

    table: TableView
    sizes_on: bool
    flows: FlowsView


def link_text(iface: str, link: LinkInfo | None) -> Text:
    if link is None:
        return Text.assemble((iface, "bold"), "  from a --json log: no link facts, kernel or per-CPU counts")
    speed = f"{link.speed_mbps} Mb/s" if link.speed_mbps else "speed n/a"
    addrs = " ".join(link.addresses) or "no addresses"
    return Text.assemble((iface, "bold"), f"  {speed}  MTU {link.mtu}  {link.mac}  {addrs}")


class IfacePanel(Vertical):
    def __init__(self, board: Board, link: LinkInfo | None, **kw) -> None:
        super().__init__(**kw)
        self.board = board
        self.link = link
        self.version = 0
        self._fit = 0
        self._bytes_mode = False
        self._parts: Parts | None = None

    def compose(self) -> ComposeResult:
        a = self.board.attachment
        yield Static(link_text(a.iface, self.link), classes="link")
        with Horizontal(classes="top"):
            yield CountersTable(a.counters, classes="counters")
            with Vertical(classes="side"):
                yield Kernel()
                with Horizontal(classes="bars"):
                    if self.board.ncpus:  # a replayed log has no per-CPU counts
                        yield PerCpu(self.board.ncpus)
                    if a.sizes:
                        yield Sizes(a.sizes)
        with Horizontal(classes="history"):
            with Vertical(classes="col-all"):
                yield Plot(classes="all-pps")
                yield Plot(classes="all-bps")
            with Vertical(classes="col-sel"):
                yield Plot(classes="sel-pps")
                yield Plot(classes="sel-bps")
        yield Flows(classes="flows")

    @property
    def parts(self) -> Parts:
        """The widgets fed each sample, found once: a DOM query per widget per sample was a good part
        of the TUI's CPU."""
        if self._parts is None:
            self._parts = Parts(
                self.query_one(CountersTable),
                self.query_one(Kernel),
                tuple(self.query(PerCpu)),
                self.query_one(Sizes) if self.board.attachment.sizes else None,
                self.query_one(Flows),
                {(w, k): self.query_one(f".{w}-{k}", Plot) for w in ("all", "sel") for k in ("pps", "bps")},
                self.query_one(".col-sel"),
            )
        return self._parts

    def on_resize(self) -> None:
        self.fit_table()

    def fit_table(self) -> None:
        """Give the counters table the rows the plots (and flows, when on) leave, never fewer than
        MIN_TABLE nor more than it has: the cursor scrolls what does not fit. The side panels sit
        under the table when narrow, beside it when wide."""
        table, panel = self.parts.table, self.parts.flows
        narrow = self.screen.has_class("-narrow")
        side = KERNEL_LINES + (lines_needed(self.board.ncpus) if self.board.ncpus else 0) if narrow else 0
        flows = FLOWS_WANT if panel.display and not panel.has_class("-note") else 0
        room = self.size.height - 1 - side - HISTORY_WANT - flows
        fit = max(MIN_TABLE, min(room, table.row_count + 1))
        if fit != self._fit:
            self._fit = fit
            table.styles.max_height = fit

    @on(RowTable.Highlighted, ".counters")
    def _picked(self, event: RowTable.Highlighted) -> None:
        """The cursor moved to another counter: the second plot follows it at once."""
        event.stop()
        self.show_plots(self._bytes_mode, self.parts.table.selected())

    def show(self, view: PanelView, flows: tuple[FlowRate, ...] | None, name: Callable[[str], str] = str) -> None:
        """Hand every widget its state for the board's latest interval."""
        b = self.board
        self.version += 1
        self._bytes_mode = view.table.bytes_mode
        parts = self.parts
        table = parts.table
        table.show(b, view.table)
        for bars in parts.percpu:
            bars.cpu_pps = b.last.cpu_pps if b.last else ()
        if (sizes := parts.sizes) is not None:
            if sizes.display != view.sizes_on:
                sizes.display = view.sizes_on
            sizes.counts = b.last.sizes if b.last and b.last.sizes else ()
        missing = "not in a replayed log" if b.attachment.mode == "replay" else "waiting for a second read"
        parts.kernel.view = KernelView(b.nic, b.pps(0), view.table.bytes_mode, missing)
        self.show_plots(view.table.bytes_mode, table.selected())
        panel = parts.flows
        shown = flows is not None or bool(view.flows.note)
        if panel.display != shown:
            panel.display = shown
        if panel.has_class("-note") != (flows is None):
            panel.set_class(flows is None, "-note")
        panel.show(flows, view.flows, name)
        self.fit_table()

    def show_plots(self, bytes_mode: bool, selected: str) -> None:
        b = self.board
        counters = {c.name: c for c in b.attachment.counters}
        sel = counters.get(selected, b.attachment.counters[0])
        unit, scale = ("B/s", 8) if bytes_mode else ("bps", 1)
        now = b.times[-1] if b.times else 0.0
        for where, c in (("all", counters["all"]), ("sel", sel)):
            bits = b.bps_history[c.index]
            per = list(bits) if scale == 1 else [v / scale for v in bits]
            for kind, values, u in (("pps", b.pps_history[c.index], "pps"), ("bps", per, unit)):
                series = Series(c.label, u, now, WINDOW_S, b.times, b.periods, values, self.version)
                self.parts.plots[where, kind].show(series)
        # `all` picked: one column of plots says it all; the second would be a copy.
        col = self.parts.col_sel
        if col.display != (sel.index != 0):
            col.display = sel.index != 0
