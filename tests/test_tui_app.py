"""The app's own paths between a sample and the screen: what the kernel panel says before it has
figures and in bytes, and samples that come faster than a frame being drawn once."""

from __future__ import annotations

import pytest
from test_replay import logged
from test_tui import FakeInfo, cell, clocked_app, feed, make_app, text, until

from bptraf.replay import ReplaySource, load
from bptraf.tui.app import BptrafApp


async def test_kernel_panel_waits_for_a_second_read_then_follows_the_units():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        assert text(app, "#panel0 Kernel") == "kernel RX/TX: waiting for a second read"
        feed(app, sampler, 1)
        await pilot.pause()
        # The kernel saw 16.1 K frames of 1489 bytes a second in, 3 of 100 out; XDP counted 20.1 K.
        assert text(app, "#panel0 Kernel").splitlines() == [
            "kernel RX  16.10 Kpps  191.8 Mbps",
            "       TX       3 pps    2400 bps",
            "errors rx 0 tx 0 · drops rx 0 tx 0",
            "XDP / kernel RX: 124.8%",
        ]
        await pilot.press("b")
        assert text(app, "#panel0 Kernel").splitlines()[:2] == [
            "kernel RX  16.10 Kpps  23.98 MB/s",
            "       TX       3 pps     300 B/s",
        ]


async def test_kernel_panel_of_a_replay_says_the_log_has_no_kernel_counts():
    src = ReplaySource(load(logged(3).splitlines(), "log"))
    app = BptrafApp(src, 1.0, info=FakeInfo(), replay=src)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.samples == 3)
        assert app.samples == 3 and app.interval == 1.0  # the log's own interval
        assert text(app, "#panel0 Kernel") == "kernel RX/TX: not in a replayed log"
        assert text(app, "#panel0 .link") == "eth0  from a --json log: no link facts, kernel or per-CPU counts"


async def test_samples_faster_than_a_frame_are_drawn_once_with_the_latest():
    app, sampler = make_app()
    now = [83.0]
    app._mono = lambda: now[0]
    app._min_frame_s = 0.25
    timers = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_timer = lambda delay, callback: timers.append((delay, callback))
        now[0] = 84.0
        feed(app, sampler, 1)  # a second after the first frame: drawn at once
        await pilot.pause()
        assert cell(app, "all", "packets") == "16.10 K" and timers == []
        now[0] = 84.1
        feed(app, sampler, 1)  # 0.1 s after the last frame: one redraw, 0.15 s on
        now[0] = 84.2
        feed(app, sampler, 1)  # already due: no second one
        await pilot.pause()
        assert [d for d, _ in timers] == [pytest.approx(0.15)]
        assert cell(app, "all", "packets") == "16.10 K"  # not yet
        timers[0][1]()
        await pilot.pause()
        assert cell(app, "all", "packets") == "59.30 K"  # the latest of the three
        now[0] = 84.3
        feed(app, sampler, 1)  # 0.1 s after that frame: a new redraw may be due again
        assert [d for d, _ in timers][1:] == [pytest.approx(0.15)]


async def test_names_from_the_start_when_asked():
    from test_tui import flow_rows, varying

    from bptraf.names import Resolver
    from bptraf.source import Feature

    app, sampler = make_app()
    app.source.flow_script = [varying(k) for k in range(1, 10)]
    app.source.set_features(Feature.FLOWS)
    names = {"198.18.0.2": "sender.test"}
    app = BptrafApp(app.source, 1.0, info=FakeInfo(), mono=lambda: 83.0, autostart=False, min_frame_s=0,
                    resolve=True, resolver_factory=lambda: Resolver(names.get))  # fmt: skip
    async with app.run_test(size=(120, 60)) as pilot:
        assert app.resolver is not None
        sources = []
        for _ in range(100):  # lookups run off the UI loop: the name comes with a later frame
            feed(app, sampler, 1)
            await pilot.pause(0.02)
            sources = sorted(r[1] for r in flow_rows(app))
            if "sender.test:4000" in sources:
                break
        assert sources == ["198.18.0.3:33000", "198.18.0.4:5000", "sender.test:4000"]


async def test_the_interface_shown_is_the_one_drawn():
    app, sampler = make_app(ifaces=("eth0", "eth1"))
    async with app.run_test() as pilot:
        await pilot.press("2")
        feed(app, sampler, 1)
        await pilot.pause()
        assert cell(app, "all", "packets", panel=1) == "16.10 K"
        await pilot.press("1")
        assert cell(app, "all", "packets", panel=0) == "16.10 K"  # drawn on showing


async def test_the_uptime_ticks_by_itself():
    app, _, now = clocked_app()
    async with app.run_test(size=(120, 10)) as pilot:
        assert "up 00:00:00" in text(app, "Header")
        now[0] = 105.0  # no sample comes: the once-a-second timer moves it on
        await until(pilot, lambda: "up 00:00:05" in text(app, "Header"), bound=150)
        assert "up 00:00:05" in text(app, "Header")


async def test_plots_follow_bits_and_bytes():
    from bptraf.tui.widgets.history import Plot

    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 3)
        await pilot.pause()
        plot = app.query_one("#panel0 .all-bps", Plot)
        bits = list(plot.series.values)
        assert plot.series.unit == "bps" and plot.text().startswith("all bps  278.3 Mbps")
        await pilot.press("b")
        assert plot.series.unit == "B/s" and list(plot.series.values) == [v / 8 for v in bits]
        assert plot.text().startswith("all B/s  34.79 MB/s")
        assert app.query_one("#panel0 .sel-bps", Plot).series.unit == "B/s"


async def test_waiting_flows_take_one_line_and_leave_the_rest_to_the_counters():
    from test_tui import varying

    from bptraf.source import Feature
    from bptraf.tui.widgets.counters import CountersTable

    app, sampler = make_app()
    app.source.flow_script = []
    app.source.set_features(Feature.FLOWS)
    async with app.run_test(size=(120, 26)) as pilot:  # room binds: the table gets what is left
        app._redraw()
        await pilot.pause()
        flows = app.query_one("#panel0 .flows")
        assert flows.has_class("-note") and flows.size.height == 1
        waiting = app.query_one("#panel0 CountersTable", CountersTable).styles.max_height.value
        app.source.flow_script = [varying(k) for k in range(1, 10)]
        feed(app, sampler, 2)
        await pilot.pause()
        assert not flows.has_class("-note") and flows.size.height >= 4
        assert app.query_one("#panel0 CountersTable", CountersTable).styles.max_height.value == waiting - 6 == 7


async def test_a_timer_firing_after_shutdown_draws_nothing():
    from bptraf.tui.widgets.header import Header

    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        header = app.query_one(Header)
        before = header.state
    app._mono = lambda: 999.0  # a tick or a pending frame that fires once the widgets are gone
    app._tick()
    app._redraw()
    assert header.state == before and before.up_s == 0


async def test_a_replay_has_no_per_cpu_bars_so_its_table_gets_their_lines():
    from bptraf.tui.widgets.counters import CountersTable

    def table_lines(app):
        return app.query_one("#panel0 CountersTable", CountersTable).styles.max_height.value

    app, sampler = make_app()
    async with app.run_test(size=(80, 24)) as pilot:  # narrow: the bars sit under the table
        feed(app, sampler, 2)
        await pilot.pause()
        live = table_lines(app)
    src = ReplaySource(load(logged(3).splitlines(), "log"))
    app = BptrafApp(src, 1.0, info=FakeInfo(), replay=src)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.samples == 3)
        assert app.samples == 3
        # 22 lines for the panel: the header line, 10 for the plots, the kernel view's 2, and for a live
        # interface the per-CPU bars' 3 (a title and two CPUs); the table has the rest.
        assert (live, table_lines(app)) == (6, 9)


async def test_hiding_idle_rows_keeps_all_even_before_any_packet():
    from bptraf.tui.widgets.counters import CountersTable

    app, sampler = make_app()
    app.source.script = [((i + 1) * 1_000_000_000, [{}]) for i in range(3)]  # nothing arrives
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 1)
        await pilot.press("h")
        assert [r[0] for r in app.query_one(CountersTable).rows] == ["all"]


async def test_the_flows_table_fits_the_width_it_has():
    from bptraf.flows import Flow
    from bptraf.source import Feature
    from bptraf.tui.widgets.rows import RowTable, line

    app, sampler = make_app()
    far = "2001:db8:1234:5678:9abc:def0:1234:5678"
    app.source.flow_script = [
        [Flow(0, 17, far, 40015, "198.18.5.1", 5015, 10 * k, 9000 * k, 1, 2)] for k in range(1, 5)
    ]
    app.source.set_features(Feature.FLOWS)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one("#panel0 .flows RowTable", RowTable)
        row = line(table.rows[0], table.columns)
        assert len(row) <= table.size.width and row.rstrip().endswith("198.18.5.1:5015       10  72.00 K  18.00 K")
        assert "…" in row and ":40015" in row  # the long address cut in the middle, its port kept


async def test_the_picked_row_stays_picked_as_samples_come():
    from bptraf.tui.widgets.counters import CountersTable

    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        table = app.query_one(CountersTable)
        assert table.selected() == "ipv4"  # the first L3 class at first
        await pilot.press("down", "down")
        feed(app, sampler, 2)
        await pilot.pause()
        assert table.selected() == "arp"
