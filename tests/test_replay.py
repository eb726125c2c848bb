"""Replay: JSON lines from an earlier run back through the Source protocol and the one sampler loop."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from fakes import FakeSource, attachment
from runner import ROOT
from test_tui import FakeInfo, script

from bptraf.errors import BptrafError
from bptraf.flows import Flow
from bptraf.replay import ReplaySource, load
from bptraf.sampler import Sampler
from bptraf.source import Feature
from bptraf.tui.app import BptrafApp
from bptraf.writers import JsonWriter


def logged(n=6, features=Feature.NONE):
    """What `bptraf --json` would have written for the scripted source."""
    src = FakeSource((attachment("eth0"),), script(n))
    src.set_features(features)
    src.flow_script = [
        [Flow(0, 17, "fe80::1", 4000, "198.18.0.1", 53, 10 * k, 1000 * k, 1, 2)] for k in range(1, n + 2)
    ]
    for i, (_ts, per) in enumerate(src.script):
        per[0]["sizes"] = tuple((i + 1) * v for v in (3, 0, 1, 0, 0, 5, 0))
    out = io.StringIO()
    sampler, writer = Sampler(src, wall=lambda: 1_763_000_000.0 + src.reads), JsonWriter(out, src.attachments)
    for _ in range(n):
        writer(sampler.sample())
    return out.getvalue()


def test_replay_gives_the_logged_rates_back():
    text = logged(4, Feature.SIZES | Feature.FLOWS)
    src = ReplaySource(load(text.splitlines(), "log"))
    assert [a.iface for a in src.attachments] == ["eth0"] and Feature.FLOWS in src.features
    sampler = Sampler(src, wall=src.wall)
    for line in text.splitlines():
        record = json.loads(line)
        sample = sampler.sample()
        r = sample.rates[0]
        assert r.period_s == record["interval"]
        assert {c.name: (r.packets[c.index], r.bytes[c.index]) for c in src.attachments[0].counters} == {
            name: (c["packets"], c["bytes"]) for name, c in record["counters"].items()
        }
        assert dict(zip(src.attachments[0].sizes, r.sizes)) == record["sizes"]
        assert [(f.flow.src, f.flow.bytes) for f in sample.flows[0]] == [
            (f["src"], f["total_bytes"]) for f in record["flows"]
        ]
    assert src.exhausted


def test_replay_accepts_new_fields_and_skips_summary_records():
    lines = logged(2).splitlines()
    extra = json.loads(lines[0]) | {"tx": {"all": {"packets": 7, "bytes": 700}}, "evictions": 3}
    lines = [json.dumps(extra), lines[1], json.dumps({"summary": {"min_pps": 1}})]
    src = ReplaySource(load(lines, "log"))
    sampler = Sampler(src)
    first = sampler.sample().rates[0]
    assert first.tx_packets[0] == 7 and first.tx_bytes[0] == 700
    assert len(src.steps) == 2


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        (['{"time": "2026-11-23T12:00:01Z", "interf'], "log:2"),  # truncated (after a good line)
        (["GET / HTTP/1.1"], "log:2"),
        (['{"hello": 1}'], "log:2"),
    ],
)
def test_a_bad_line_is_named_by_its_number(lines, where):
    good = logged(1).splitlines()
    with pytest.raises(BptrafError, match=f"^{where}: "):
        load(good + lines, "log")


async def test_the_tui_replays_with_pause_step_and_speed():
    src = ReplaySource(load(logged(6).splitlines(), "log"))
    app = BptrafApp(src, 1.0, info=FakeInfo(), replay=src)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")  # pause the feed at once
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert app.speed == 4.0
        before = src.pos
        await pilot.press("full_stop")
        for _ in range(100):
            if src.pos > before:
                break
            await pilot.pause(0.02)
        assert src.pos == before + 1 and app.paused
        assert "replay 4x" in str(app.query_one("Header").render())
        await pilot.press("p", "greater_than_sign", "greater_than_sign", "greater_than_sign")  # 64x: the rest
        for _ in range(200):
            if src.exhausted and app.samples == 6:
                break
            await pilot.pause(0.02)
        assert src.exhausted and app.samples == 6
        assert app.is_running  # the end of the log leaves the screen up


def test_cli_names_the_bad_line_and_exits_1(tmp_path):
    log = tmp_path / "log"
    log.write_text(logged(2) + '{"time": "2026-11-23T12:00:0\n')
    proc = subprocess.run([sys.executable, "-m", "bptraf", "--replay", str(log)], cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=30)  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"bptraf: {log}:3: not a JSON line") and proc.stderr.count("\n") == 1


def test_cli_refuses_an_interface_with_replay(tmp_path):
    log = tmp_path / "log"
    log.write_text(logged(1))
    proc = subprocess.run([sys.executable, "-m", "bptraf", "--replay", str(log), "eth0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert proc.returncode == 2 and "--replay" in proc.stderr and proc.stderr.count("\n") == 1
