"""The sampling loop, driven by a fake source and clock."""

import pytest
from fakes import FakeClock, FakeSource, attachment

from bptraf.errors import InterfaceGone
from bptraf.sampler import Sampler, Wait, run


def script(n):
    return [((i + 1) * 1_000_000_000, [{"all": (10 * (i + 1), 640 * (i + 1))}]) for i in range(n)]


def test_count_bounds_the_run_and_deltas_sum_to_totals():
    src = FakeSource((attachment(),), script(5))
    clock = FakeClock()
    out = []
    run(Sampler(src, wall=lambda: 0.0), 1.0, 5, clock.wait, out.append, mono=clock.mono)
    assert len(out) == 5
    assert sum(s.rates[0].packets[0] for s in out) == out[-1].totals[0].packets[0] == 50
    assert all(s.rates[0].pps[0] == 10.0 for s in out)


def test_deadlines_do_not_drift_with_the_loops_own_time():
    src = FakeSource((attachment(),), script(4))
    clock = FakeClock()

    def slow_emit(_sample):
        clock.now += 300_000_000  # rendering takes 0.3 s

    run(Sampler(src), 1.0, 4, clock.wait, slow_emit, mono=clock.mono)
    assert clock.waits == [1.0, 0.7, 0.7, 0.7]


def test_falling_behind_skips_instead_of_bursting():
    src = FakeSource((attachment(),), script(3))
    clock = FakeClock()

    def stall(_sample):
        clock.now += 2_500_000_000

    run(Sampler(src), 1.0, 3, clock.wait, stall, mono=clock.mono)
    assert clock.waits == [1.0, 1.0, 1.0]


def test_a_stop_emits_the_partial_interval_and_ends():
    src = FakeSource((attachment(),), script(3))
    calls = []

    def wait(seconds):
        calls.append(seconds)
        return Wait.STOP if len(calls) == 2 else Wait.TIMEOUT

    out = []
    run(Sampler(src), 1.0, None, wait, out.append, mono=lambda: 0)
    assert len(out) == 2


def test_a_removed_interface_raises_after_its_last_sample():
    src = FakeSource((attachment("veth9"),), script(3))
    clock = FakeClock()
    out = []

    def emit(sample):
        out.append(sample)
        src.missing = ("veth9",)

    with pytest.raises(InterfaceGone, match="veth9 disappeared"):
        run(Sampler(src), 1.0, None, clock.wait, emit, mono=clock.mono)
    assert len(out) == 1 and out[0].totals[0].packets[0] == 10


def test_rates_and_interval_come_from_the_measured_period_not_the_nominal_one():
    """At -i 1 the reads land 1.25 s apart (a slow host): rates divide by 1.25, and the output says so."""
    import io
    import json

    from bptraf.flows import Flow
    from bptraf.source import Feature
    from bptraf.writers import JsonWriter, PlainWriter

    a = (attachment("eth0"),)
    per = [
        {"all": (1000 * n, 64_000 * n), "ipv4": (1000 * n, 64_000 * n), "udp": (1000 * n, 64_000 * n)} for n in (1, 2)
    ]
    src = FakeSource(a, [(1_250_000_000, [per[0]]), (2_500_000_000, [per[1]])])
    src.set_features(Feature.FLOWS)
    src.flow_script = [
        [Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 500, 32_000, 1, 2)],
        [Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 1000, 64_000, 1, 3)],
    ]
    clock = FakeClock()  # each wait lasts the nominal second
    js, text = io.StringIO(), io.StringIO()
    jw, pw = JsonWriter(js, a), PlainWriter(text, a)

    def emit(sample):
        jw(sample)
        pw(sample)

    run(Sampler(src, wall=lambda: 0.0), 1.0, 2, clock.wait, emit, mono=clock.mono)
    assert clock.waits == [1.0, 1.0]
    records = [json.loads(line) for line in js.getvalue().splitlines()]
    assert [r["interval"] for r in records] == [1.25, 1.25]
    assert [r["counters"]["all"]["pps"] for r in records] == [800.0, 800.0]
    assert [r["counters"]["udp"]["bps"] for r in records] == [409_600.0, 409_600.0]
    assert [(f["pps"], f["bps"]) for r in records for f in r["flows"]] == [(400.0, 204_800.0)] * 2
    assert text.getvalue().count("       all: 800 pps 409.6 Kbps\n") == 2


def test_a_wake_restarts_the_deadline_with_the_new_interval():
    """The TUI's +/-: a WAKE samples nothing and waits a whole new interval from the moment it came."""
    src = FakeSource((attachment(),), script(3))
    clock = FakeClock()
    intervals = [1.0]
    replies = iter([Wait.WAKE, Wait.TIMEOUT, Wait.TIMEOUT])

    def wait(seconds):
        clock.waits.append(seconds)
        why = next(replies)
        clock.now += int((0.4 if why is Wait.WAKE else seconds) * 1e9)
        if why is Wait.WAKE:
            intervals[0] = 2.0
        return why

    out = []
    run(Sampler(src), lambda: intervals[0], 2, wait, out.append, mono=clock.mono)
    assert clock.waits == [1.0, 2.0, 2.0]
    assert clock.now == 4_400_000_000
    assert len(out) == 2


def test_deadline_exactly_reached_skips_a_whole_interval():
    from bptraf.sampler import next_deadline

    assert next_deadline(0.0, 1.0, 0.5) == 1.0
    assert next_deadline(0.0, 1.0, 1.0) == 2.0  # on the deadline already: the next one is an interval on
    assert next_deadline(0.0, 1.0, 3.5) == 4.5


def test_several_removed_interfaces_are_all_named():
    src = FakeSource((attachment("veth8"), attachment("veth9")), [(10**9, [{}, {}])])
    src.missing = ("veth8", "veth9")
    with pytest.raises(InterfaceGone, match=r"veth8\b.*\bveth9 disappeared"):
        Sampler(src).check()


def test_flows_switched_off_and_on_again_count_from_zero():
    from bptraf.flows import Flow
    from bptraf.source import Feature

    def f(packets):
        return Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, packets, packets * 100, 1, 2)

    src = FakeSource((attachment(),), script(3))
    src.set_features(Feature.FLOWS)
    src.flow_script = [[f(10)], [f(10)], [f(25)]]
    sampler = Sampler(src)
    first = sampler.sample()
    src.set_features(Feature.NONE)
    off = sampler.sample()
    src.set_features(Feature.FLOWS)
    src.flow_reads = 2
    again = sampler.sample()
    assert [r.packets for r in first.flows[0]] == [10]
    assert off.flows is None
    # Nothing remembered across the gap: the flow's whole total is this interval's.
    assert [(r.packets, r.pps) for r in again.flows[0]] == [(25, 25.0)]
    assert again.features == Feature.FLOWS
