"""Edges of the writers the goldens do not reach: a flow line of exactly 100 columns and one of 101,
and the flow table's figures in JSON."""

from __future__ import annotations

import io
import json

from fakes import FakeSource, attachment

from bptraf.flows import Flow, FlowRate, TableState
from bptraf.sampler import Sampler
from bptraf.source import Feature
from bptraf.writers import FLOW_HEADER, JsonWriter, flow_lines


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
