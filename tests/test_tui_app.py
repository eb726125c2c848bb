"""The app's own paths between a sample and the screen: what the kernel panel says before it has
figures and in bytes, and samples that come faster than a frame being drawn once."""

from __future__ import annotations

import pytest
from test_replay import logged
from test_tui import FakeInfo, cell, feed, make_app, text

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
        for _ in range(200):
            if app.samples == 3:
                break
            await pilot.pause(0.02)
        assert app.samples == 3 and app.interval == 1.0  # the log's own interval
        assert text(app, "#panel0 Kernel") == "kernel RX/TX: not in a replayed log"


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
