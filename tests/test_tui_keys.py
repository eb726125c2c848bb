"""Every key's outcome on the screen and in what the app tells the user: the ends of the interval
ladder, interfaces by digit and by `i`, feature switches (and where they are refused), host names,
the help screen's text; and the app's own paths: the uptime tick, stop signals, worker failures."""

from __future__ import annotations

import os
import signal

import pytest
from fakes import FakeSource, attachment
from test_replay import logged
from test_tui import FakeInfo, clocked_app, feed, make_app, script, text, until, varying, wait_until_stopped
from textual.widgets import Static

from bptraf.replay import ReplaySource, load
from bptraf.source import Feature
from bptraf.tui.app import BptrafApp
from bptraf.tui.help import HelpScreen
from bptraf.tui.widgets.counters import CountersTable


def said(app):
    return [(n.message, n.severity) for n in app._notifications]


async def test_the_interval_ladder_stops_at_both_ends():
    app, _ = make_app()
    app.interval = 60.0
    async with app.run_test() as pilot:
        await pilot.press("plus")
        assert app.interval == 60.0 and "every 60s" in text(app, "Header")
        app.interval = 0.1
        await pilot.press("minus")
        assert app.interval == 0.1 and "every 0.1s" in text(app, "Header")
        await pilot.press("plus")
        assert app.interval == 0.2


async def test_digits_and_i_pick_interfaces_and_focus_their_table():
    from textual.widgets import Tab

    app, _ = make_app(ifaces=("eth0", "eth1"))
    async with app.run_test() as pilot:
        assert [str(t.label) for t in app.query(Tab)] == ["1 eth0", "2 eth1"]  # the digit that picks it
        await pilot.press("2")
        assert app.query_one("TabbedContent").active == "if1"
        assert app.focused is app.query_one("#panel1 CountersTable", CountersTable)
        await pilot.press("3")  # one past the last interface: nothing happens
        assert app.is_running and app.query_one("TabbedContent").active == "if1"
        await pilot.press("i")  # wraps round
        assert app.query_one("TabbedContent").active == "if0"
        assert app.focused is app.query_one("#panel0 CountersTable", CountersTable)


async def test_feature_keys_switch_and_say_so():
    app, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("f")
        await until(pilot, lambda: Feature.FLOWS in app.source.features)
        await pilot.press("z")
        await until(pilot, lambda: Feature.SIZES in app.source.features)
        await pilot.press("f")
        await until(pilot, lambda: Feature.FLOWS not in app.source.features)
        assert said(app) == [("flows on", "information"), ("sizes on", "information"), ("flows off", "information")]
        assert Feature.SIZES in app.source.features


async def test_drop_mode_refuses_features_with_a_warning():
    app, _ = make_app(action="drop")
    async with app.run_test() as pilot:
        await pilot.press("f", "z")
        await pilot.pause()
        assert said(app) == [
            ("-d counts totals only: no flows", "warning"),
            ("-d counts totals only: no sizes", "warning"),
        ]
        assert app.source.features == Feature.NONE


async def test_a_switch_shows_the_new_program_in_the_header():
    class Swapping(FakeInfo):
        def __init__(self):
            super().__init__()
            self.next_id = 42

        def prog_id(self, ifindex):
            self.next_id += 1
            return self.next_id - 1

    app, _ = make_app(info=Swapping())
    async with app.run_test(size=(120, 10)) as pilot:
        assert "eth0 native pass prog 42" in text(app, "Header")
        await pilot.press("f")
        await until(pilot, lambda: "prog 43" in text(app, "Header"))
        assert "eth0 native pass prog 43" in text(app, "Header")


async def test_a_failing_read_ends_the_app_with_one_line():
    src = FakeSource((attachment("eth0"),), script(5))

    def broken():
        raise RuntimeError("map gone")

    src.read = broken
    app = BptrafApp(src, 0.1, info=FakeInfo())
    async with app.run_test() as pilot:
        await wait_until_stopped(app, pilot)
    assert str(app.error) == "reading the counters failed: map gone" and app.samples == 0


async def test_a_normal_end_leaves_no_error():
    app, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("q")
        await wait_until_stopped(app, pilot)
    assert app.error is None and not app.is_running


async def test_names_key_says_on_and_off_and_closes_the_resolver():
    closed = []

    class Resolver:
        def name(self, addr):
            return addr

        def close(self):
            closed.append(True)

    atts = (attachment("eth0"),)
    app = BptrafApp(FakeSource(atts, script(5)), 1.0, info=FakeInfo(), autostart=False, resolver_factory=Resolver)
    async with app.run_test() as pilot:
        assert app.resolver is None  # off until asked
        await pilot.press("n")
        assert isinstance(app.resolver, Resolver)
        await pilot.press("n")
        assert app.resolver is None and closed == [True]
        assert said(app) == [("host names on", "information"), ("host names off", "information")]


async def test_replay_keeps_the_logs_intervals_and_features():
    src = ReplaySource(load(logged(6).splitlines(), "log"))
    app = BptrafApp(src, 1.0, info=FakeInfo(), replay=src)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p", "plus", "f", "less_than_sign")
        assert app.interval == 1.0 and app.speed == 0.5
        assert app.feed._held()  # the paused replay holds its feed; only `.` lets one interval through
        assert text(app, "Header").startswith("bptraf │ eth0 replay pass │ every 1s │ replay 0.5x · ")
        assert said(app) == [
            ("replay: the log's intervals are kept; < and > change the speed", "information"),
            ("replay: flows are shown when the log has them", "warning"),
        ]
        await pilot.press(*["less_than_sign"] * 3)
        assert app.speed == 0.25  # the slowest
        await pilot.press(*["greater_than_sign"] * 9)
        assert app.speed == 64.0  # the fastest
        await pilot.press("p")
        assert not app.feed._held() or src.exhausted
        await until(pilot, lambda: src.exhausted and app.samples == 6)
        await until(pilot, lambda: text(app, "Header").endswith("· end"))
        assert "replay 64x · " in text(app, "Header")


async def test_the_uptime_moves_on_between_samples_once_a_second_has_passed():
    app, sampler, now = clocked_app()
    async with app.run_test(size=(120, 10)) as pilot:
        now[0] = 100.5
        feed(app, sampler, 1)  # a frame at 100.5 (up 0 s)
        await pilot.pause()
        assert "up 00:00:00" in text(app, "Header")
        now[0] = 101.2
        app._tick()  # 0.7 s after the frame: no redraw, though a redraw would say 1 s
        await pilot.pause()
        assert "up 00:00:00" in text(app, "Header")
        now[0] = 101.5
        app._tick()  # a whole second after the frame
        await pilot.pause()
        assert "up 00:00:01" in text(app, "Header")
        now[0] = 3723.0 + 100.0
        app._tick()
        await pilot.pause()
        assert "up 01:02:03" in text(app, "Header")


async def test_a_stop_signal_ends_the_app_like_q():
    handler = signal.getsignal(signal.SIGUSR2)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})  # as cli.py leaves it
    try:
        app, _ = make_app()
        app._stop_signals = (signal.SIGUSR2,)
        async with app.run_test() as pilot:
            assert signal.SIGUSR2 not in signal.pthread_sigmask(signal.SIG_BLOCK, set())  # unblocked on mount
            os.kill(os.getpid(), signal.SIGUSR2)
            await wait_until_stopped(app, pilot)
            assert not app.is_running
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        signal.signal(signal.SIGUSR2, handler)


async def test_help_screen_text():
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        lines = str(app.screen.query_one(Static).content).splitlines()
        assert lines[:4] == ["bptraf keys", "", " ?         this list of keys", " q         quit (detaches everything)"]
        assert " p, space  pause the screen (live) or the replay; counting goes on" in lines
        # A key wider than the column gets a line of its own, its text under the others'.
        i = lines.index(" ↑ ↓ PgUp PgDn Home End")
        assert lines[i + 1] == "           move in the focused table (counters: the row plotted)"
        assert lines[-1] == "escape closes · ↑/↓ scroll this list"
        await pilot.press("q")  # closes the help, not the app
        assert app.is_running and not isinstance(app.screen, HelpScreen)


async def test_flows_title_says_what_is_shown_and_how_sorted():
    app, sampler = make_app()
    app.source.flow_script = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.source.set_features(Feature.FLOWS)
        app._redraw()
        await pilot.pause()
        title = app.query_one("#panel0 FlowsTitle")
        assert title.text.plain == "flows on: waiting for the next interval"
        assert app.query_one("#panel0 .flows").display
        app.source.flow_script = [varying(k) for k in range(1, 10)]
        feed(app, sampler, 2)
        await pilot.pause()
        assert title.text.plain == "flows 3 active · by flow, sorted by bps (s sort, g group)"
        await pilot.press("s", "s", "g")
        assert title.text.plain == "flows 3 active · by src, sorted by total bytes (s sort, g group)"


class Recorded:
    """Stands in for BptrafApp in run_tui(): what it was given, and how its run ended."""

    made: list = []
    error = None
    return_code = 0

    def __init__(self, source, interval, count, **kw) -> None:
        Recorded.made.append(self)
        self.source, self.interval, self.count, self.kw = source, interval, count, kw
        self.ran = False

    def run(self) -> None:
        self.ran = True


def test_run_tui_hands_the_app_its_inputs_and_a_driver_on_the_chosen_terminal(monkeypatch):
    import time

    from bptraf.errors import BptrafError
    from bptraf.sampler import Sampler
    from bptraf.tui import app as app_module
    from bptraf.tui.driver import TerminalDriver
    from bptraf.tui.start import run_tui

    monkeypatch.setattr(app_module, "BptrafApp", Recorded)
    Recorded.made = []
    src = FakeSource((attachment("eth0"),), script(3))
    run_tui(src, 0.5, 3, True, fd=7, stop_signals=(signal.SIGTERM,), top=4)
    app = Recorded.made[-1]
    assert (app.source, app.interval, app.count, app.ran) == (src, 0.5, 3, True)
    kw = app.kw
    assert (kw["resolve"], kw["stop_signals"], kw["replay"], kw["top"]) == (True, (signal.SIGTERM,), None, 4)
    assert issubclass(kw["driver_class"], TerminalDriver) and kw["driver_class"].fd == 7
    assert isinstance(kw["sampler"], Sampler) and kw["sampler"].source is src and kw["sampler"]._wall is time.time

    replay = ReplaySource(load(logged(2).splitlines(), "log"))
    run_tui(replay, 1.0, None, replay=replay)
    kw = Recorded.made[-1].kw
    assert kw["replay"] is replay and kw["sampler"]._wall == replay.wall and kw["driver_class"].fd == 1
    assert (kw["resolve"], kw["stop_signals"], kw["top"]) == (False, (), None)

    monkeypatch.setattr(Recorded, "error", BptrafError("eth0 disappeared"))
    with pytest.raises(BptrafError, match="^eth0 disappeared$"):
        run_tui(src, 1.0, None)
    monkeypatch.setattr(Recorded, "error", None)
    monkeypatch.setattr(Recorded, "return_code", 1)
    with pytest.raises(BptrafError, match=r"^the TUI failed \(the error is above\)$"):
        run_tui(src, 1.0, None)
