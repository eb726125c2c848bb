"""The Textual app: composes the panels, owns the keys, runs the one sampling loop in a worker.

Built from injected inputs (a Source, SystemInfo, clocks) so tests drive it with scripted numbers.
Map reads run in a thread worker; widgets only ever receive finished state.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from textual import on, work
from textual.app import App, ComposeResult
from textual.widgets import Footer, TabbedContent, TabPane

from bptraf.errors import BptrafError
from bptraf.flows import GROUPS, SORT_KEYS
from bptraf.names import Resolver
from bptraf.sampler import Sample, Sampler, run
from bptraf.source import Feature, Source
from bptraf.tui import keys
from bptraf.tui.actions import KeyActions
from bptraf.tui.board import Board, NicCounters
from bptraf.tui.feed import Feed
from bptraf.tui.panel import IfacePanel, PanelView
from bptraf.tui.sysinfo import SystemInfo
from bptraf.tui.widgets.counters import CountersTable, TableView
from bptraf.tui.widgets.flows import FlowsView
from bptraf.tui.widgets.header import Banner, Header, HeaderState, Hook, banner_text


@dataclass(frozen=True)
class Found:
    header: Header
    tabs: TabbedContent
    panels: tuple[IfacePanel, ...]  # in tab order: panels[i] is tab "if{i}"


class BptrafApp(KeyActions, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "bptraf"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = keys.BINDINGS

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
        resolve: bool = False,
        resolver_factory: Callable[[], Resolver] = Resolver,
        stop_signals: tuple[int, ...] = (),
        replay=None,
        driver_class=None,
        sampler: Sampler | None = None,
        top: int | None = None,
    ) -> None:
        super().__init__(driver_class=driver_class)
        self.source = source
        self.interval = interval
        self.count = count
        self.info = info or SystemInfo()
        self._mono, self._wall, self._mono_ns = mono, wall, mono_ns
        self._autostart = autostart
        self._stop_signals = stop_signals
        self.replay = replay  # a ReplaySource: pause, step and speed act on its feed
        self.speed = 1.0
        self.started = mono()
        self.boards = [Board(a, source.ncpus) for a in source.attachments]
        self.paused = False
        self.view = PanelView(
            TableView(), Feature.SIZES in source.features, FlowsView(SORT_KEYS[0], GROUPS[0], limit=top)
        )
        self._resolver_factory = resolver_factory
        self.resolver: Resolver | None = resolver_factory() if resolve else None
        self.samples = 0
        self.error: BptrafError | None = None
        self._min_frame_s = min_frame_s
        self._last_draw = -1e9
        self._redraw_pending = False
        self.feed = Feed(lambda: self.paused, replay)
        # Made by the caller right after attach when it can: the first interval starts at zero().
        self._sampler = sampler or Sampler(source, wall=replay.wall if replay else wall)
        self._hooks = tuple(Hook(a.iface, "replay" if replay else a.mode, a.action) for a in source.attachments)

    def compose(self) -> ComposeResult:
        yield Header()
        drop = tuple(a.iface for a in self.source.attachments if a.action == "drop")
        if drop:
            yield Banner(banner_text(drop, None if self.replay else self.info.default_route()), id="banner")
        with TabbedContent(id="tabs", classes="single" if len(self.boards) == 1 else ""):
            for i, board in enumerate(self.boards):
                with TabPane(f"{i + 1} {board.attachment.iface}", id=f"if{i}"):
                    link = None if self.replay else self.info.link(board.attachment.iface)
                    yield IfacePanel(board, link, id=f"panel{i}")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self._stop_signals:
            # cli.py blocked the stop signals until here: from now on they end the app like `q`.
            loop = asyncio.get_running_loop()
            for sig in self._stop_signals:
                loop.add_signal_handler(sig, self.exit)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self._stop_signals)
        if not self.replay:
            self._hooks = tuple(
                Hook(h.iface, h.mode, h.action, self.info.prog_id(a.ifindex))
                for h, a in zip(self._hooks, self.source.attachments)
            )
        self._redraw()
        self.query_one("#panel0 CountersTable", CountersTable).focus()
        self.set_interval(1.0, self._tick)
        if self._autostart:
            self._sampling()

    def _tick(self) -> None:
        """The uptime moves on between samples only when no redraw did it: a frame costs CPU."""
        if self._mono() - self._last_draw >= 1.0:
            self._show_header()

    def _show_header(self) -> None:
        replay = ""
        if self.replay:
            replay = f"replay {self.speed:g}x · {self.replay.when()}" + (" · end" if self.replay.exhausted else "")
        if (found := self._found()) is not None:  # none while the app shuts down and a timer still fires
            found.header.state = HeaderState(
                self._hooks, self.interval, int(self._mono() - self.started), self.source.ncpus, self.paused, replay
            )

    def _found(self) -> Found | None:
        """The widgets fed per sample, queried once (a DOM query per sample cost CPU); None once the app
        is closing."""
        if self._widgets is None:
            tabs = self.query(TabbedContent)
            if not tabs:
                return None
            self._widgets = Found(self.query_one(Header), tabs.first(), tuple(self.query(IfacePanel)))
        return self._widgets if self._widgets.tabs.is_attached else None

    # -- sampling -------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, name="sampler")
    def _sampling(self) -> None:
        ifaces = tuple(a.iface for a in self.source.attachments)
        self.call_from_thread(self.ingest_nic, self.info.nic(ifaces))

        def emit(sample: Sample) -> None:
            if not self.feed.stopped():
                self.call_from_thread(self.ingest, sample, {} if self.replay else self.info.nic(ifaces))

        def interval() -> float:
            return self.replay.step_s() / self.speed if self.replay else self.interval

        try:
            run(self._sampler, interval, self.count, self.feed.wait, emit, self._mono_ns)
        except Exception as exc:  # any failure ends the app with one line, never a traceback on the screen
            if not self.feed.stopped():
                err = exc if isinstance(exc, BptrafError) else BptrafError(f"reading the counters failed: {exc}")
                self.call_from_thread(self.fail, err)

    def ingest_nic(self, nic: dict[str, NicCounters]) -> None:
        for board in self.boards:
            if board.attachment.iface in nic:
                board.add_nic(nic[board.attachment.iface])

    def ingest(self, sample: Sample, nic: dict[str, NicCounters] | None = None) -> None:
        """Take one interval; the boards always count, the screen redraws unless paused."""
        for board, rates in zip(self.boards, sample.rates):
            board.add(rates, sample.time)
        self._flows = sample.flows
        self._tx = tuple(bool(r.tx_packets) for r in sample.rates)
        if sample.flows_evicted and not self._evicted:
            self.notify("the flow table is full and evicting: per-flow totals undercount", severity="warning")
        self._evicted += sample.flows_evicted
        self.ingest_nic(nic or {})
        self.samples += 1
        if self.replay:
            self.interval = round(sample.rates[0].period_s, 3) if sample.rates else self.interval
        if not self.paused or self.replay:
            self._redraw_soon()
        if self.count is not None and self.samples >= self.count:
            self.exit()

    def fail(self, exc: BptrafError) -> None:
        self.error = exc
        self.exit()

    def _redraw_soon(self) -> None:
        """Redraw now, or once the minimum frame gap has passed: at -i 0.1 drawing every sample would
        cost far more CPU than counting does, and no one reads ten frames a second."""
        if self._redraw_pending:
            return
        wait = self._last_draw + self._min_frame_s - self._mono()
        if wait <= 0:
            self._redraw()
        else:
            self._redraw_pending = True
            self.set_timer(wait, self._redraw)

    _flows: tuple | None = None
    _widgets: Found | None = None
    _tx: tuple[bool, ...] = ()  # per interface: whether the last interval counted what was sent
    _evicted = 0  # flows evicted from a full flow table since start

    def _redraw(self) -> None:
        self._redraw_pending = False
        self._last_draw = self._mono()
        if (found := self._found()) is None:
            return  # shutting down
        i = int((found.tabs.active or "if0")[2:])
        panel = found.panels[i]  # only the visible interface is drawn
        flows = self._flows[i] if self._flows is not None and i < len(self._flows) else None
        view = PanelView(
            self.view.table,
            self.sizes_on,
            replace(
                self.view.flows,
                note=self._flows_note(flows),
                bytes_mode=self.view.table.bytes_mode,
                evicted=self._evicted,
                tx=i < len(self._tx) and self._tx[i],
            ),
        )
        panel.show(view, flows, self.resolver.name if self.resolver else str)
        self._show_header()

    @property
    def sizes_on(self) -> bool:
        return Feature.SIZES in self.source.features

    def _flows_note(self, flows) -> str:
        if flows is not None:
            return ""
        if Feature.FLOWS in self.source.features:
            return "on: waiting for the next interval"
        return ""  # off or unavailable: the flows panel takes no space

    @on(TabbedContent.TabActivated)
    def _tab_shown(self) -> None:
        self._redraw()

    def on_unmount(self) -> None:
        self.feed.stop()
        if self.resolver:
            self.resolver.close()
