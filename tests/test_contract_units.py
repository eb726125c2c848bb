"""The contract's pure parts, without root: option refusals, the stdout queue, the drop verdict, plain
output for logs, and the words for an interface that went away."""

from __future__ import annotations

import contextlib
import io
import os
import threading

import pytest
from fakes import FakeSource, attachment

from bptraf import limits, netif
from bptraf.errors import BptrafError, Stopped, UsageError
from bptraf.flows import Flow, FlowRate
from bptraf.options import output_mode, parser, settle
from bptraf.output import Output, Stream
from bptraf.sampler import Sample, Sampler
from bptraf.source import Feature
from bptraf.summary import Tally, Verdict, percentile
from bptraf.writers import JsonWriter, PlainWriter, flow_lines, sizes_line

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def settled(*argv: str, terminal: bool = False):
    args = parser().parse_args(["eth0", *argv])
    return settle(args, output_mode(args, terminal))


# -- options that would do nothing ----------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,message",
    [
        (["--top", "3"], "--top only applies with --flows"),
        (["--flows-max", "64", "--flows-idle", "5", "--json"], "--flows-max and --flows-idle only apply with --flows"),
        (["--resolve", "--flows", "--plain"], "--resolve names hosts in the TUI only"),
        (["-d", "--top", "3"], "-d counts totals only: --top would do nothing"),
        (["-d", "--resolve", "--plain"], "-d counts totals only: --resolve would do nothing"),
        (["--timestamps", "--json"], "--timestamps is for plain output"),
    ],
)
def test_an_option_that_would_do_nothing_is_refused(argv, message):
    with pytest.raises(UsageError, match=message):
        settled(*argv)


def test_the_tui_takes_flow_options_without_flows_since_f_switches_them_on():
    assert settled("--top", "3", "--resolve", "--flows-max", "64", terminal=True).top == 3


def test_defaults_are_filled_in_only_when_not_given():
    got = settled()
    assert (got.top, got.flows_max, got.flows_idle) == (10, 16384, 60.0)
    got = settled("--flows", "--top", "10", "--flows-max", "64", "--flows-idle", "5")
    assert (got.top, got.flows_max, got.flows_idle) == (10, 64, 5.0)


def test_an_argparse_error_is_two_lines(capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["-i", "x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("usage: bptraf") and err[1].startswith("bptraf: error: argument -i")


# -- the stdout queue ---------------------------------------------------------------------------
def test_a_full_queue_waits_for_a_stop_not_for_the_reader():
    r, w = os.pipe()
    try:
        os.set_blocking(w, True)
        out = Output(w, depth=2)
        stopping = [False]
        stream = Stream(out, lambda _t: stopping[0])
        big = "x" * 70_000  # more than the pipe holds: the writer thread blocks in write()
        for _ in range(3):  # one in write(), two queued: the queue is full
            stream.write(big)
            stream.flush()
        stopping[0] = True
        stream.write(big)
        with pytest.raises(Stopped):
            stream.flush()
        assert not stream.finish(patient=False)
        assert out.unwritten >= 1
    finally:
        os.close(r)
        # The writer thread meets EPIPE now: let it stop before w's fd number can be reused by the
        # next test's pipe, which it would otherwise write its queued x's into.
        with contextlib.suppress(OSError, BptrafError):
            out.drained(5)
        os.close(w)


def test_what_is_queued_is_written_in_order():
    r, w = os.pipe()
    out = Output(w)
    stream = Stream(out, lambda _t: False)
    for i in range(100):
        stream.write(f"{i}\n")
        stream.flush()
    assert stream.finish(patient=True)
    out.close()
    os.close(w)
    with os.fdopen(r) as f:
        assert f.read() == "".join(f"{i}\n" for i in range(100))


def test_a_write_error_is_one_line_and_a_closed_pipe_is_broken_pipe():
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        stream = Stream(Output(full), lambda _t: False)
        stream.write("x\n")
        stream.flush()
        with pytest.raises(BptrafError, match="^cannot write to stdout: No space left on device$"):
            stream.finish(patient=True)
    finally:
        os.close(full)
    r, w = os.pipe()
    os.close(r)
    stream = Stream(Output(w), lambda _t: False)
    stream.write("x\n")
    stream.flush()
    with pytest.raises(BrokenPipeError):
        stream.finish(patient=True)
    os.close(w)


def test_no_thread_is_left_after_close():
    r, w = os.pipe()
    before = threading.active_count()
    out = Output(w)
    out.close()
    for t in threading.enumerate():
        if t.name == "bptraf-stdout":
            t.join(timeout=5)
    assert threading.active_count() == before
    os.close(r)
    os.close(w)


# -- the drop verdict ---------------------------------------------------------------------------
def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 99), percentile(values, 100), percentile([5.0], 99)) == (99.0, 100.0, 5.0)


def test_line_rate_counts_preamble_gap_and_fcs():
    v = Verdict("eth0", 3, 3.0, 42_000_000, 42_000_000 * 60, 13e6, 14.2e6, 14.3e6, 14.3e6, 10_000)
    assert v.line_rate_pps == pytest.approx(10e9 / (84 * 8))
    assert v.line().endswith("; 14.20 Mpps = 95% of 10 GbE at 64 B")
    assert v.record()["line_rate_share"] == pytest.approx(14.2e6 / (10e9 / 672), abs=1e-4)


def test_unknown_speed_or_no_packets_give_no_share():
    v = Verdict("eth0", 1, 1.0, 10, 600, 10, 10, 10, 10, None)
    assert v.share is None and "GbE" not in v.line() and v.record()["link_speed_bps"] is None
    assert Verdict("eth0", 2, 2.0, 0, 0, 0, 0, 0, 0, 10_000).line() == "summary eth0: 2 intervals, no packets received"


def drop_samples(per_interval: list[int], last_period_ns: int = 1_000_000_000):
    """Samples of a drop run: `per_interval` 60-byte packets in each 1 s interval, the last maybe shorter."""
    a = (attachment("eth0", action="drop"),)
    script, t, total = [], 0, 0
    for i, n in enumerate(per_interval):
        t += last_period_ns if i == len(per_interval) - 1 else 1_000_000_000
        total += n
        script.append((t, [{"all": (total, total * 60)}]))
    sampler = Sampler(FakeSource(a, script), wall=lambda: T0)
    return a, [sampler.sample() for _ in per_interval]


def test_the_tally_leaves_a_short_last_interval_out_of_the_spread():
    a, samples = drop_samples([1000, 3000, 2000, 10], last_period_ns=100_000_000)
    tally = Tally(a, 1.0)
    for s in samples:
        tally(s)
    (v,) = tally.verdicts([10_000])
    assert (v.intervals, v.packets, v.bytes) == (3, 6010, 6010 * 60)
    assert (v.pps_min, v.pps_median, v.pps_max) == (1000, 2000, 3000)


def test_the_json_summary_has_summary_and_no_counters():
    a, samples = drop_samples([1000, 3000])
    tally = Tally(a, 1.0)
    for s in samples:
        tally(s)
    out = io.StringIO()
    JsonWriter(out, a).summary(tally.verdicts([None]), T0)
    import json

    record = json.loads(out.getvalue())
    assert "counters" not in record and record["interface"] == "eth0"
    assert record["summary"]["packets"] == 4000 and record["summary"]["pps_median"] == 2000


# -- plain output for logs ----------------------------------------------------------------------
def test_timestamps_head_each_block():
    a, samples = drop_samples([1000])
    out = io.StringIO()
    PlainWriter(out, a, timestamps=True)(samples[0])
    assert out.getvalue().splitlines()[0] == "# 2026-11-18T11:06:40.000Z"


def test_long_ipv6_endpoints_wrap_within_100_columns():
    six = "2001:db8:1111:2222:3333:4444:5555:6666"
    f = Flow(0, 6, six, 40000, six.replace("6666", "7777"), 443, 12_345_678, 9_876_543_210, 1, 2)
    lines = flow_lines(FlowRate(f, 1000, 1_000_000, 1000.0, 8e6))
    assert len(lines) == 2 and all(len(line) <= 100 for line in lines)
    assert lines[0].startswith("   tcp   1000 pps  8000 Kbps 12.35 M  9877 MB  [2001:db8")
    assert lines[1].strip() == f"> [{six.replace('6666', '7777')}]:443"


def test_plain_output_shows_sizes_when_counted():
    a = (attachment("eth0"),)
    src = FakeSource(a, [(1_000_000_000, [{"all": (4, 400), "sizes": (3, 1, 0, 0, 0, 0, 0)}])])
    src.features = Feature.SIZES
    line = sizes_line(a[0], Sampler(src).sample().rates[0])
    assert line == "     sizes: 0-64 75%  65-127 25%  128-255 0%  256-511 0%  512-1023 0%  1024-1518 0%  1519+ 0%"
    assert len(line) <= 100


def test_plain_block_includes_the_sizes_line():
    a = (attachment("eth0"),)
    src = FakeSource(a, [(1_000_000_000, [{"all": (4, 400), "sizes": (4, 0, 0, 0, 0, 0, 0)}])])
    src.features = Feature.SIZES
    out = io.StringIO()
    PlainWriter(out, a)(Sampler(src).sample())
    assert "     sizes: 0-64 100%" in out.getvalue()


# -- what became of an interface -----------------------------------------------------------------
def test_an_interface_renamed_is_told_by_its_new_name():
    assert netif.fate("eth9", 1, detached=False) == "eth9 was renamed lo (ifindex 1) while bptraf watched it"


def test_deleted_and_moved_are_told_apart_by_the_link():
    gone = 2**31 - 7  # no such ifindex here
    assert netif.fate("eth9", gone, detached=True).endswith("was deleted; the kernel detached bptraf's program")
    assert "moved to another network namespace" in netif.fate("eth9", gone, detached=False)


def test_oom_kills_are_read_from_v1_and_v2_files(tmp_path):
    (tmp_path / "cg").write_text("12:memory:/a/b\n0::/\n")
    assert limits.memory_cgroup(tmp_path / "cg") == limits.CGROUP / "memory" / "a" / "b"
    (tmp_path / "cg").write_text("0::/user.slice/x\n")
    assert limits.memory_cgroup(tmp_path / "cg") == limits.CGROUP / "user.slice" / "x"
    (tmp_path / "events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert limits.counter(tmp_path / "events", "oom_kill") == 2
    assert limits.counter(tmp_path / "missing", "oom_kill") == 0


def test_a_sample_feature_set_is_what_the_writers_read():
    assert Sample(T0, (), (), None, Feature.SIZES).features == Feature.SIZES
