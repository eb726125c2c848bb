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
