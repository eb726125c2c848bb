"""The rate model: deltas over the measured period, never the nominal one."""

import pytest

from bptraf.model import Snapshot
from bptraf.rates import compute, delta


def snap(ts_ns, packets, nbytes, cpu=(0, 0)):
    return Snapshot(ts_ns, (packets,), (nbytes,), cpu, cpu)


def test_rates_use_the_measured_period():
    r = compute(snap(0, 0, 0), snap(1_250_000_000, 1000, 64_000))
    assert r.period_s == 1.25
    assert r.packets == (1000,) and r.bytes == (64_000,)
    assert r.pps == (800.0,)
    assert r.bps == (64_000 * 8 / 1.25,)


@pytest.mark.parametrize("period_ns", [900_000_000, 1_000_000_000, 1_100_000_000, 2_000_000_000])
def test_jitter_changes_the_rate_not_the_count(period_ns):
    r = compute(snap(5_000_000_000, 100, 6400), snap(5_000_000_000 + period_ns, 1100, 70_400))
    assert r.packets == (1000,)
    assert r.pps[0] == pytest.approx(1000 / (period_ns / 1e9))


def test_zero_or_backwards_period_gives_zero_rates():
    assert compute(snap(10, 0, 0), snap(10, 5, 50)).pps == (0.0,)
    assert compute(snap(10, 0, 0), snap(5, 5, 50)).bps == (0.0,)


def test_negative_delta_is_a_reset():
    assert delta(100, 30) == 30
    assert delta(30, 100) == 70
    r = compute(snap(0, 500, 5000), snap(10**9, 20, 200))
    assert r.packets == (20,) and r.bytes == (200,)


def test_per_cpu_rates():
    r = compute(snap(0, 0, 0, cpu=(0, 0)), snap(500_000_000, 30, 300, cpu=(10, 20)))
    assert r.cpu_pps == (20.0, 40.0)
    assert r.cpu_bps == (160.0, 320.0)


def test_an_unchanged_counter_has_a_zero_delta():
    assert delta(7, 7) == 0
    assert compute(snap(0, 7, 70), snap(10**9, 7, 70)).packets == (0,)


def test_sizes_and_tx_are_deltas_over_the_period_too():
    prev = Snapshot(
        0, (10,), (1000,), (5, 5), (500, 500), sizes=(4, 6), tx_packets=(3,), tx_bytes=(300,), tx_sizes=(1, 2)
    )
    cur = Snapshot(
        2_000_000_000, (30,), (3000,), (15, 15), (1500, 1500), sizes=(14, 16), tx_packets=(13,), tx_bytes=(1300,),
        tx_sizes=(6, 7),
    )  # fmt: skip
    r = compute(prev, cur)
    assert r.sizes == (10, 10)
    assert (r.tx_packets, r.tx_bytes, r.tx_pps, r.tx_bps, r.tx_sizes) == ((10,), (1000,), (5.0,), (4000.0,), (5, 5))
