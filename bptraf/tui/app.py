"""The Textual app: live per-protocol table, history plots, per-CPU bars and the kernel's counters.

The app is built from injected inputs (a Source, SystemInfo, clocks) so tests drive it with scripted
numbers. Map reads run in a thread worker; widgets only ever receive finished Samples.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Sparkline, Static, TabbedContent, TabPane

from bptraf.errors import BptrafError
from bptraf.flows import GROUPS, SORT_KEYS, group, top
from bptraf.names import Resolver
from bptraf.sampler import Sample, Sampler, Wait, run
from bptraf.source import Feature, Source, toggled
from bptraf.tui.board import Board, NicCounters
from bptraf.tui.sysinfo import SystemInfo
from bptraf.units import rate, si
from bptraf.writers import endpoint

INTERVALS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
COLUMNS = ("counter", "pps", "bps", "share", "peak pps", "avg pps", "packets", "bytes")
WIDTHS = (8, 7, 7, 6, 8, 7, 7, 7)
PLOT_POINTS = 300  # intervals across a plot: five minutes at -i 1
KEYS = """\
 q, Ctrl+C   quit (detaches everything)
 p, space    pause the screen (counting goes on)
 r           reset peaks, averages and totals shown
 + / -       longer / shorter interval
 b           bits or bytes per second
 f           count per flow, on or off (pass mode)
 z           frame-size histogram, on or off (pass mode)
 s / g       sort flows by bps, pps, total / group by flow, source, destination, port
 n           host names for flows (reverse DNS, off by default; never blocks the screen)
 ↑ / ↓       pick the row plotted under `all`
 tab, 1-9    switch interface
 ?           this help"""


def _bars(title: str, labels: Sequence[str], values: Sequence[float], unit: str, width: int = 12) -> str:
    """A title line, then one bar per value scaled to the largest."""
    peak = max(values, default=0.0) or 1.0
    wide = max((len(label) for label in labels), default=0) + 1
    lines = [title]
    for label, value in zip(labels, values):
        filled = round(value / peak * width)
        shown = rate(value, unit) if unit else si(value)
        lines.append(f"{label:<{wide}}[green]{'█' * filled}[/green][dim]{'░' * (width - filled)}[/dim] {shown}")
    return "\n".join(lines)


def _cell(value: float) -> Text:
    """A table number: the classic four significant digits, unit in the column header."""
    return Text(si(value), justify="right")


class Readout(Widget):
    """Lines of text sized by the stylesheet: an update repaints them and never re-lays out the screen,
    which is what a Static would do on every sample."""

    text: reactive[str] = reactive("", layout=False)

    def render(self) -> Text:
        return Text.from_markup(self.text)

    def update(self, text: str) -> None:
        self.text = text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        yield Static(f"[b]bptraf keys[/b]\n\n{KEYS}\n\n[dim]escape closes[/dim]", id="help")


class IfacePanel(VerticalScroll):
    """One interface: the counters table, history plots, per-CPU bars and the kernel's view."""

    def __init__(self, board: Board, **kw) -> None:
        super().__init__(**kw)
        self.board = board
        self.selected = 1  # the row plotted beside `all`
        self._shown: dict[tuple[str, str], str] = {}  # what each cell holds, to skip no-op updates
        self._unit = ""

    def compose(self) -> ComposeResult:
        yield Readout(classes="link")
        yield DataTable(cursor_type="row", zebra_stripes=True, classes="counters")
        with Horizontal(classes="lower"):
            with Vertical(classes="history"):
                yield Readout(classes="plot-title all-title")
                yield Sparkline([], summary_function=max, classes="all-pps")
                yield Sparkline([], summary_function=max, classes="all-bps")
                yield Readout(classes="plot-title sel-title")
                yield Sparkline([], summary_function=max, classes="sel-pps")
                yield Sparkline([], summary_function=max, classes="sel-bps")
            with Vertical(classes="side"):
                yield Readout(classes="cpus")
                yield Readout(classes="sizes")
                yield Readout(classes="kernel")
        yield Readout(classes="flows-title")
        yield DataTable(cursor_type="none", zebra_stripes=True, classes="flows")

    def on_mount(self) -> None:
        self.query_one(".cpus", Readout).styles.height = self.board.ncpus + 1
        sizes = self.board.attachment.sizes
        self.query_one(".sizes", Readout).styles.height = len(sizes) + 1
        self.query_one(".sizes", Readout).display = bool(sizes)
        table = self.query_one(DataTable)
        for col, width in zip(COLUMNS, WIDTHS):
            table.add_column(col if col == "counter" else Text(col, justify="right"), key=col, width=width)
        for c in self.board.attachment.counters:
            table.add_row(c.label, *([""] * (len(COLUMNS) - 1)), key=c.name)
        # Start with the first L3 class picked, so the second plot is not a copy of the first.
        table.move_cursor(row=min(1, len(self.board.attachment.counters) - 1))

    @on(DataTable.RowHighlighted)
    def _pick(self, event: DataTable.RowHighlighted) -> None:
        if not event.data_table.has_class("counters"):
            return
        self.selected = event.cursor_row
        self.refresh_view(self.app.bytes_mode, self.app.sizes_on)

    def refresh_view(self, bytes_mode: bool, sizes_on: bool = False) -> None:
        b = self.board
        unit = "B/s" if bytes_mode else "bps"
        scale = 8 if bytes_mode else 1
        table = self.query_one(DataTable)
        if unit != self._unit:  # relabelling makes the table re-measure every column: only on change
            table.columns["bps"].label = Text(unit, justify="right")
            table.refresh()
            self._unit = unit
        for c in b.attachment.counters:
            i = c.index
            cells = (
                _cell(b.pps(i)),
                _cell(b.bps(i) / scale),
                Text(f"{b.share(i) * 100:.1f}%", justify="right"),
                _cell(b.peak_pps[i]),
                _cell(b.avg_pps(i)),
                _cell(b.packets[i]),
                _cell(b.bytes[i]),
            )
            for col, value in zip(COLUMNS[1:], cells):
                # Redrawing the table is most of the TUI's cost; most cells (idle classes) never change.
                if self._shown.get((c.name, col)) != value.plain:
                    self._shown[(c.name, col)] = value.plain
                    table.update_cell(c.name, col, value)
        counters = b.attachment.counters
        sel = counters[min(self.selected, len(counters) - 1)]
        self.query_one(".all-title", Readout).update(
            f"[b]all[/b]  {rate(b.pps(0), 'pps')}  {rate(b.bps(0) / scale, unit)}  [dim](pps, then {unit})[/dim]"
        )
        self.query_one(".sel-title", Readout).update(
            f"[b]{sel.label}[/b]  {rate(b.pps(sel.index), 'pps')}  {rate(b.bps(sel.index) / scale, unit)}"
        )
        for cls, history in (
            (".all-pps", b.pps_history[0]),
            (".all-bps", b.bps_history[0]),
            (".sel-pps", b.pps_history[sel.index]),
            (".sel-bps", b.bps_history[sel.index]),
        ):
            # A fixed window, padded on the left, so time always runs at the same speed across the plot.
            self.query_one(cls, Sparkline).data = [0.0] * (PLOT_POINTS - len(history)) + list(history)[-PLOT_POINTS:]
        self.query_one(".cpus", Readout).update(self._cpus())
        if b.attachment.sizes:
            self.query_one(".sizes", Readout).update(self._sizes(sizes_on))
        self.query_one(".kernel", Readout).update(self._kernel(bytes_mode))

    def _cpus(self) -> str:
        cpu_pps = self.board.last.cpu_pps if self.board.last else ()
        return _bars("[b]per CPU[/b] (XDP, pps)", [f"cpu{i}" for i in range(len(cpu_pps))], cpu_pps, "pps")

    def _sizes(self, on: bool) -> str:
        if not on:
            return "[b]frame sizes[/b] off: press z"
        counts = (
            self.board.last.sizes
            if self.board.last and self.board.last.sizes
            else (0,) * len(self.board.attachment.sizes)
        )
        return _bars("[b]frame sizes[/b] (packets)", self.board.attachment.sizes, counts, "")

    def refresh_flows(self, sort: str, grouping: str, top_n: int, state: str, name: Callable[[str], str] = str) -> None:
        """The flows table: the biggest flows, or flows summed by host or port; `name` shows a host."""
        title = self.query_one(".flows-title", Readout)
        table = self.query_one(".flows", DataTable)
        flows = self.board.flows
        if flows is None:
            title.update(f"[b]flows[/b] {state}")
            table.display = False
            return
        table.display = True
        title.update(
            f"[b]flows[/b] by {grouping}, sorted by {sort} (f off, s sort, g group, n names)  {len(flows)} active"
        )
        if grouping == "flow":
            rows = [
                (r.flow.proto_name, endpoint(name(r.flow.src), r.flow.sport), endpoint(name(r.flow.dst), r.flow.dport),
                 si(r.pps), si(r.bps), si(r.flow.bytes))
                for r in top(flows, top_n, sort)
            ]  # fmt: skip
            columns = ("proto", "source", "destination", "pps", "bps", "bytes")
        else:
            keyfn = {"bps": lambda g: g.bps, "pps": lambda g: g.pps, "total": lambda g: g.total_bytes}[sort]
            groups = sorted(group(flows, grouping), key=lambda g: (-keyfn(g), g.name))[:top_n]
            label = name if grouping in ("src", "dst") else str
            rows = [(label(g.name), str(g.flows), si(g.pps), si(g.bps), si(g.total_bytes)) for g in groups]
            columns = (grouping, "flows", "pps", "bps", "bytes")
        if tuple(str(c.label) for c in table.columns.values()) != columns:
            table.clear(columns=True)
            for col in columns:
                table.add_column(
                    col if col in ("proto", "source", "destination", grouping) else Text(col, justify="right"), key=col
                )
        table.clear()
        for row in rows:
            table.add_row(*row[: len(columns) - 3], *(Text(v, justify="right") for v in row[len(columns) - 3 :]))

    def _kernel(self, bytes_mode: bool) -> str:
        n = self.board.nic
        if n is None:
            return "[b]kernel[/b] (interface counters)\nwaiting for a second read"
        unit, scale = ("B/s", 8) if bytes_mode else ("bps", 1)
        xdp = self.board.pps(0)
        ratio = f"{xdp / n.rx_pps * 100:.1f}%" if n.rx_pps else "-"
        return (
            "[b]kernel[/b] (interface counters)\n"
            f"RX {rate(n.rx_pps, 'pps'):>11} {rate(n.rx_bps / scale, unit):>11}\n"
            f"TX {rate(n.tx_pps, 'pps'):>11} {rate(n.tx_bps / scale, unit):>11}\n"
            f"errors rx {n.rx_errors} tx {n.tx_errors}  drops rx {n.rx_drops} tx {n.tx_drops}\n"
            f"XDP / kernel RX: {ratio}"
        )


class BptrafApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "bptraf"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
        Binding("p,space", "pause", "pause"),
        Binding("r", "reset", "reset"),
        Binding("plus,equals_sign", "interval(1)", "+interval"),
        Binding("minus", "interval(-1)", "-interval"),
        Binding("b", "bytes", "bits/bytes"),
        Binding("f", "flows", "flows"),
        Binding("z", "sizes", "sizes"),
        Binding("s", "flow_sort", "sort", show=False),
        Binding("g", "flow_group", "group", show=False),
        Binding("n", "names", "names", show=False),
        Binding("tab", "next_iface", "next iface", priority=True),
        Binding("question_mark", "help", "help"),
        *(Binding(str(n), f"iface({n - 1})", show=False) for n in range(1, 10)),
    ]

    def __init__(
        self,
        source: Source,
        interval: float,
        count: int | None = None,
        info: SystemInfo | None = None,
        mono: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        mono_ns: Callable[[], int] = time.monotonic_ns,
        autostart: bool = True,
        min_frame_s: float = 0.25,
        top_n: int = 10,
        resolve: bool = False,
        resolver_factory: Callable[[], Resolver] = Resolver,
    ) -> None:
        super().__init__()
        self.source = source
        self.interval = interval
        self.count = count
        self.info = info or SystemInfo()
        self._mono = mono
        self._wall = wall
        self._mono_ns = mono_ns
        self._autostart = autostart
        self.started = mono()
        self.boards = [Board(a, source.ncpus) for a in source.attachments]
        self.paused = False
        self.bytes_mode = False
        self.top_n = top_n
        self.flow_sort = SORT_KEYS[0]
        self.flow_group = GROUPS[0]
        self._resolver_factory = resolver_factory
        self.resolver: Resolver | None = resolver_factory() if resolve else None
        self.samples = 0
        self.error: BptrafError | None = None
        self._min_frame_s = min_frame_s
        self._last_draw = 0.0
        self._redraw_pending = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._drop = any(a.action == "drop" for a in source.attachments)

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Readout(id="info")
        if self._drop:
            names = ", ".join(a.iface for a in self.source.attachments)
            yield Static(f"DROP MODE: every packet arriving on {names} is being dropped", id="banner")
        with TabbedContent(id="tabs", classes="single" if len(self.boards) == 1 else ""):
            for i, board in enumerate(self.boards):
                with TabPane(f"{i + 1} {board.attachment.iface}", id=f"if{i}"):
                    yield IfacePanel(board, id=f"panel{i}")
        yield Footer()

    def on_mount(self) -> None:
        # Textual handles neither SIGTERM nor SIGHUP: end the app so the terminal is restored and
        # the caller detaches everything.
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.exit)
        except (RuntimeError, ValueError, NotImplementedError):
            pass  # not the main thread (tests): nothing to install
        for board, panel in zip(self.boards, self.query(IfacePanel)):
            link = self.info.link(board.attachment.iface)
            speed = f"{link.speed_mbps} Mb/s" if link.speed_mbps else "speed n/a"
            addrs = " ".join(link.addresses) or "no addresses"
            panel.query_one(".link", Readout).update(
                f"[b]{board.attachment.iface}[/b]  {speed}  MTU {link.mtu}  {link.mac}  {addrs}"
            )
            panel.refresh_view(self.bytes_mode, self.sizes_on)
        self._show_info()
        self.set_interval(1.0, self._show_info)
        if self._autostart:
            self._sampling()

    def _show_info(self) -> None:
        up = int(self._mono() - self.started)
        parts = ["[b]bptraf[/b]"]
        for a in self.source.attachments:
            action = "[reverse red] DROP [/]" if a.action == "drop" else "pass"
            parts.append(f"{a.iface} {a.mode} {action}")
        parts.append(f"every {self.interval:g}s")
        parts.append(f"up {up // 3600:02d}:{up % 3600 // 60:02d}:{up % 60:02d}")
        parts.append(f"{self.boards[0].ncpus} CPUs")
        if self.paused:
            parts.append("[reverse yellow] PAUSED [/]")
        self.query_one("#info", Readout).update(" │ ".join(parts))

    # -- sampling -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, name="sampler")
    def _sampling(self) -> None:
        ifaces = tuple(a.iface for a in self.source.attachments)
        self.call_from_thread(self.ingest_nic, self.info.nic(ifaces))

        def wait(timeout: float) -> Wait:
            if self._wake.wait(timeout):
                self._wake.clear()
                return Wait.STOP if self._stop.is_set() else Wait.WAKE
            return Wait.TIMEOUT

        def emit(sample: Sample) -> None:
            if not self._stop.is_set():
                self.call_from_thread(self.ingest, sample, self.info.nic(ifaces))

        try:
            run(Sampler(self.source, wall=self._wall), lambda: self.interval, self.count, wait, emit, self._mono_ns)
        except BptrafError as exc:
            if not self._stop.is_set():
                self.call_from_thread(self.fail, exc)

    def ingest_nic(self, nic: dict[str, NicCounters]) -> None:
        for board in self.boards:
            if board.attachment.iface in nic:
                board.add_nic(nic[board.attachment.iface])

    def ingest(self, sample: Sample, nic: dict[str, NicCounters] | None = None) -> None:
        """Take one interval; the boards always count, the screen only redraws when not paused."""
        for i, (board, rates) in enumerate(zip(self.boards, sample.rates)):
            board.add(rates)
            board.flows = sample.flows[i] if sample.flows is not None else None
        self.ingest_nic(nic or {})
        self.samples += 1
        if not self.paused:
            self._redraw_soon()
        if self.count is not None and self.samples >= self.count:
            self.exit()

    def fail(self, exc: BptrafError) -> None:
        self.error = exc
        self.exit()

    def _redraw_soon(self) -> None:
        """Redraw now, or once the minimum frame gap has passed: at -i 0.1 drawing every sample
        would cost far more CPU than counting does, and no one reads ten frames a second."""
        if self._redraw_pending:
            return
        wait = self._last_draw + self._min_frame_s - time.monotonic()
        if wait <= 0:
            self._redraw()
        else:
            self._redraw_pending = True
            self.set_timer(wait, self._redraw)

    def _redraw(self) -> None:
        self._redraw_pending = False
        self._last_draw = time.monotonic()
        active = self.query_one(TabbedContent).active or "if0"
        # Only the visible interface is drawn; switching tabs draws the newly shown one.
        panel = self.query_one(f"#panel{active[2:]}", IfacePanel)
        panel.refresh_view(self.bytes_mode, self.sizes_on)
        name = self.resolver.name if self.resolver else str
        panel.refresh_flows(self.flow_sort, self.flow_group, self.top_n, self._flows_state(), name)
        self._show_info()

    @property
    def sizes_on(self) -> bool:
        return Feature.SIZES in self.source.features

    def _flows_state(self) -> str:
        if Feature.FLOWS not in self.source.available:
            return "not available in drop mode"
        if Feature.FLOWS in self.source.features:
            return "on: waiting for the next interval"
        return "off: press f to count per flow"

    @on(TabbedContent.TabActivated)
    def _tab_shown(self) -> None:
        self._redraw()

    def on_unmount(self) -> None:
        self._stop.set()
        self._wake.set()
        if self.resolver:
            self.resolver.close()

    # -- keys -----------------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._redraw()
        self._show_info()

    def action_reset(self) -> None:
        for board in self.boards:
            board.reset()
        self._redraw()

    def action_interval(self, step: int) -> None:
        later = [i for i in INTERVALS if i > self.interval]
        earlier = [i for i in INTERVALS if i < self.interval]
        if step > 0 and later:
            self.interval = later[0]
        elif step < 0 and earlier:
            self.interval = earlier[-1]
        self._wake.set()
        self._show_info()

    def action_bytes(self) -> None:
        self.bytes_mode = not self.bytes_mode
        self._redraw()

    def action_iface(self, index: int) -> None:
        if 0 <= index < len(self.boards):
            self.query_one(TabbedContent).active = f"if{index}"
            self.query_one(f"#panel{index} DataTable", DataTable).focus()

    def action_next_iface(self) -> None:
        active = self.query_one(TabbedContent).active or "if0"
        self.action_iface((int(active[2:]) + 1) % len(self.boards))

    def action_flows(self) -> None:
        self._toggle(Feature.FLOWS)

    def action_sizes(self) -> None:
        self._toggle(Feature.SIZES)

    def _toggle(self, feature: Feature) -> None:
        """Swap the attached programs for ones with `feature` on or off (pass mode)."""
        name = feature.names()[0]
        if feature not in self.source.available:
            self.notify(f"-d counts totals only: no {name}", severity="warning")
            return
        wanted = toggled(self.source, feature)
        # Switching flows off empties the flow map: a burst of syscalls, so not on the UI loop.
        self.run_worker(lambda: self.source.set_features(wanted), thread=True, group="features")
        self.notify(f"{name} {'on' if feature in wanted else 'off'}")

    def action_flow_sort(self) -> None:
        self.flow_sort = SORT_KEYS[(SORT_KEYS.index(self.flow_sort) + 1) % len(SORT_KEYS)]
        self._redraw()

    def action_flow_group(self) -> None:
        self.flow_group = GROUPS[(GROUPS.index(self.flow_group) + 1) % len(GROUPS)]
        self._redraw()

    def action_names(self) -> None:
        """Reverse DNS for flow hosts, on or off; lookups run off the UI loop and are cached."""
        if self.resolver is None:
            self.resolver = self._resolver_factory()
        else:
            self.resolver.close()
            self.resolver = None
        self.notify("host names on" if self.resolver else "host names off")
        self._redraw()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def run_tui(source: Source, interval: float, count: int | None, top_n: int = 10, resolve: bool = False) -> None:
    app = BptrafApp(source, interval, count, top_n=top_n, resolve=resolve)
    app.run()
    if app.error is not None:
        raise app.error
