"""Edges of the writers the goldens do not reach: a flow line of exactly 100 columns and one of 101,
and the flow table's figures in JSON."""

from __future__ import annotations

import io
import json

from fakes import FakeSource, attachment

from bptraf.flows import Flow, FlowRate, TableState
from bptraf.sampler import Sampler
from bptraf.source import Feature
from bptraf.summary import Verdict
from bptraf.writers import FLOW_HEADER, JsonWriter, PlainWriter, flow_lines, sizes_line


def rate_of(src: str, dst: str) -> FlowRate:
    return FlowRate(Flow(0, 6, src, 40000, dst, 443, 12_345_678, 9_876_543_210, 1, 2), 1000, 1_000_000, 1000.0, 8e6)


def endpoints_of_length(n: int) -> tuple[str, str]:
    """Two IPv6 endpoints whose `[src]:40000 > [dst]:443` is n characters long."""
    fixed = len("[]:40000 > []:443")
    dst = "2001:db8::1"
    src = "2001:db8:" + ":".join(["1111"] * 5)[: n - fixed - len(dst) - len("2001:db8:")]
    src = src.rstrip(":")
    assert len(f"[{src}]:40000 > [{dst}]:443") == n, "no address of that length"
    return src, dst


def head_width() -> int:
    short = flow_lines(rate_of("2001:db8::2", "2001:db8::1"))
    assert len(short) == 1
    return len(short[0]) - len("[2001:db8::2]:40000 > [2001:db8::1]:443")


def test_a_flow_line_of_exactly_100_columns_stays_on_one_line():
    src, dst = endpoints_of_length(100 - head_width())
    lines = flow_lines(rate_of(src, dst))
    assert len(lines) == 1 and len(lines[0]) == 100
    assert lines[0].endswith(f"[{src}]:40000 > [{dst}]:443")


def test_a_flow_line_of_101_columns_wraps_under_the_src_column():
    src, dst = endpoints_of_length(101 - head_width())
    lines = flow_lines(rate_of(src, dst))
    assert len(lines) == 2
    assert lines[0].endswith(f"  [{src}]:40000")
    assert lines[1] == " " * FLOW_HEADER.index("SRC > DST") + f"> [{dst}]:443"


def test_json_records_carry_the_flow_tables_figures_on_every_interface():
    a = (attachment("eth0"), attachment("eth1"))
    src = FakeSource(a, [(1_000_000_000, [{"all": (10, 1000)}, {"all": (20, 2000)}])])
    src.set_features(Feature.FLOWS)
    src.flow_state = TableState(evicted=7, untracked_packets=1234, full=True)  # as a BpfSource carries it
    sample = Sampler(src, wall=lambda: 0.0).sample()
    out = io.StringIO()
    JsonWriter(out, a)(sample)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["interface"], r["flows_evicted"], r["flows_untracked_packets"]) for r in records] == [
        ("eth0", 7, 1234),
        ("eth1", 7, 1234),
    ]


def test_a_sizes_line_with_no_packets_shows_zero_shares():
    a = (attachment("eth0"),)
    src = FakeSource(a, [(1_000_000_000, [{"all": (0, 0)}])])
    line = sizes_line(a[0], Sampler(src).sample().rates[0])
    assert line == "     sizes: " + "  ".join(f"{label} 0%" for label in a[0].sizes)


def drop_verdicts():
    a = (attachment("eth0", action="drop"), attachment("eth1", action="drop"))
    return a, (Verdict("eth0", 3, 3.0, 30, 1_920, 9.0, 10.0, 11.0, 11.0, 10_000),
               Verdict("eth1", 1, 1.0, 0, 0, 0.0, 0.0, 0.0, 0.0, None))  # fmt: skip


def test_the_json_summary_is_one_compact_record_per_interface():
    a, verdicts = drop_verdicts()
    out = io.StringIO()
    JsonWriter(out, a).summary(verdicts, 1_795_000_000.0)
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"time": "2026-11-18T11:06:40.000Z", "interface": a[i].iface, "mode": "native", "action": "drop",
         "summary": v.record()}
        for i, v in enumerate(verdicts)
    ]  # fmt: skip
    assert all(", " not in line and '": ' not in line for line in lines), "compact separators"


def test_the_plain_summary_is_each_verdicts_line():
    a, verdicts = drop_verdicts()
    out = io.StringIO()
    PlainWriter(out, a).summary(verdicts, 0.0)
    assert out.getvalue() == f"{verdicts[0].line()}\n{verdicts[1].line()}\n"
    assert out.getvalue().startswith("summary eth0: 3 intervals")
