"""SVG snapshots of the whole screen at the sizes people use, fed varying data (so a plot of the
wrong series, a cut panel or a missing key shows in the picture)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_tui import feed, make_app, varying

from bptraf.source import Feature

SIZES = [(80, 24), (100, 30), (120, 40), (200, 60)]
MODES = ["pass", "sizes-flows", "drop"]


def both_ways(k):
    """varying(k)'s flows as conversations: each also sends back, at its own rate."""
    return [replace(f, tx_packets=40 * k * (i + 1), tx_bytes=30_000 * k * (3 - i)) for i, f in enumerate(varying(k))]


def scripted(mode):
    app, sampler = make_app(n=30, action="drop" if mode == "drop" else "pass", tx=mode == "sizes-flows")
    if mode == "sizes-flows":
        app.source.set_features(Feature.SIZES | Feature.FLOWS | Feature.TX)
        app.source.flow_script = [both_ways(k) for k in range(1, 40)]
        for i, (_ts, per) in enumerate(app.source.script):
            per[0]["sizes"] = tuple((i + 1) * n for n in (300, 20, 100, 0, 0, 16_000, 0))
    return app, sampler


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_snapshot(snap_compare, size, mode):
    app, sampler = scripted(mode)

    async def run_before(pilot):
        feed(app, sampler, 20)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_snapshot_help_at_80x24(snap_compare):
    app, _ = make_app()
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"])
