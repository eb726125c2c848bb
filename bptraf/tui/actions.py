"""What each key does: the app's actions, apart from its layout and sampling (BINDINGS in keys.py
names them). Mixed into BptrafApp, whose state they change; the screen follows through _redraw()."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import TabbedContent

from bptraf.errors import BptrafError
from bptraf.flows import GROUPS, RX_SORT_KEYS, SORT_KEYS
from bptraf.source import Feature, toggled
from bptraf.tui.help import HelpScreen
from bptraf.tui.widgets.counters import CountersTable
from bptraf.tui.widgets.header import Hook

INTERVALS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)


class KeyActions:
    """The action_* methods of BptrafApp."""

    def _set_view(self, **changes) -> None:
        self.view = replace(self.view, **changes)
        self._redraw()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.feed.wake() if self.replay else None
        if not self.paused:
            self._redraw()
        self._show_header()

    def action_step(self) -> None:
        if self.replay and self.paused:
            self.feed.step()

    def action_speed(self, step: int) -> None:
        if self.replay:
            i = SPEEDS.index(self.speed) + step
            self.speed = SPEEDS[max(0, min(i, len(SPEEDS) - 1))]
            self.feed.wake()
            self._show_header()

    def action_reset(self) -> None:
        for board in self.boards:
            board.reset()
        self._redraw()

    def action_interval(self, step: int) -> None:
        if self.replay:
            self.notify("replay: the log's intervals are kept; < and > change the speed")
            return
        later = [i for i in INTERVALS if i > self.interval]
        earlier = [i for i in INTERVALS if i < self.interval]
        if step > 0 and later:
            self.interval = later[0]
        elif step < 0 and earlier:
            self.interval = earlier[-1]
        self.feed.wake()  # the worker starts a new deadline at once, not after the old interval
        self._show_header()

    def action_bytes(self) -> None:
        self._set_view(table=replace(self.view.table, bytes_mode=not self.view.table.bytes_mode))

    def action_hide_idle(self) -> None:
        self._set_view(table=replace(self.view.table, hide_idle=not self.view.table.hide_idle))

    def action_iface(self, index: int) -> None:
        if 0 <= index < len(self.boards):
            self.query_one(TabbedContent).active = f"if{index}"
            self.query_one(f"#panel{index} CountersTable", CountersTable).focus()

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
        if self.replay:
            self.notify(f"replay: {name} are shown when the log has them", severity="warning")
            return
        if feature not in self.source.available:
            self.notify(f"-d counts totals only: no {name}", severity="warning")
            return
        wanted = toggled(self.source, feature)
        # Switching flows off empties the flow map: a burst of syscalls, so not on the UI loop.
        self.run_worker(lambda: self._switch(wanted), thread=True, group="features")
        self.notify(f"{name} {'on' if feature in wanted else 'off'}")

    def _switch(self, wanted: Feature) -> None:
        try:
            self.source.set_features(wanted)
        except Exception as exc:
            err = exc if isinstance(exc, BptrafError) else BptrafError(f"switching features failed: {exc}")
            self.call_from_thread(self.fail, err)
            return
        hooks = tuple(
            Hook(h.iface, h.mode, h.action, self.info.prog_id(a.ifindex))
            for h, a in zip(self._hooks, self.source.attachments)
        )
        self.call_from_thread(self._switched, hooks)

    def _switched(self, hooks: tuple[Hook, ...]) -> None:
        self._hooks = hooks
        self._redraw()

    def action_flow_sort(self) -> None:
        """Both ways, received, sent (bps, then pps), then total bytes; without TX, bps, pps and total."""
        f = self.view.flows
        keys = SORT_KEYS if any(self._tx) else RX_SORT_KEYS
        self._set_view(flows=replace(f, sort=keys[(keys.index(f.sort) + 1) % len(keys)] if f.sort in keys else keys[0]))

    def action_flow_group(self) -> None:
        f = self.view.flows
        self._set_view(flows=replace(f, grouping=GROUPS[(GROUPS.index(f.grouping) + 1) % len(GROUPS)]))

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
        self.push_screen(HelpScreen(self.BINDINGS))
