"""Pure rate model: deltas between two snapshots over the measured period."""

from __future__ import annotations

from dataclasses import dataclass

from bptraf.model import Snapshot


@dataclass(frozen=True)
class Rates:
    """One interval: counts in it and their rates, per counter and per CPU (tx_*: what was sent)."""

    period_s: float
    packets: tuple[int, ...]
    bytes: tuple[int, ...]
    pps: tuple[float, ...]
    bps: tuple[float, ...]  # bits per second
    cpu_pps: tuple[float, ...]
    cpu_bps: tuple[float, ...]
    sizes: tuple[int, ...] = ()  # packets per frame-size bucket in the interval
    tx_packets: tuple[int, ...] = ()  # empty while TX is not counted
    tx_bytes: tuple[int, ...] = ()
    tx_pps: tuple[float, ...] = ()
    tx_bps: tuple[float, ...] = ()
    tx_sizes: tuple[int, ...] = ()


def delta(prev: int, cur: int) -> int:
    """Counter growth; a counter that went backwards was reset and counts from zero."""
    return cur - prev if cur >= prev else cur


def per_second(count: float, period_s: float, scale: int = 1) -> float:
    """count × scale per second of `period_s`; 0 over an empty period. The one place rates are divided."""
    return count * scale / period_s if period_s > 0 else 0.0


def _deltas(prev: tuple[int, ...], cur: tuple[int, ...]) -> tuple[int, ...]:
    if len(prev) != len(cur):
        return cur
    return tuple(delta(p, c) for p, c in zip(prev, cur))


def _per_second(values: tuple[int, ...], period_s: float, scale: int = 1) -> tuple[float, ...]:
    return tuple(per_second(v, period_s, scale) for v in values)


def compute(prev: Snapshot, cur: Snapshot) -> Rates:
    """Rates over the time that really passed between the two reads."""
    period_s = max(cur.ts_ns - prev.ts_ns, 0) / 1e9
    packets = _deltas(prev.packets, cur.packets)
    nbytes = _deltas(prev.bytes, cur.bytes)
    tx_packets = _deltas(prev.tx_packets, cur.tx_packets)
    tx_bytes = _deltas(prev.tx_bytes, cur.tx_bytes)
    return Rates(
        period_s=period_s,
        packets=packets,
        bytes=nbytes,
        pps=_per_second(packets, period_s),
        bps=_per_second(nbytes, period_s, 8),
        cpu_pps=_per_second(_deltas(prev.cpu_packets, cur.cpu_packets), period_s),
        cpu_bps=_per_second(_deltas(prev.cpu_bytes, cur.cpu_bytes), period_s, 8),
        sizes=_deltas(prev.sizes, cur.sizes),
        tx_packets=tx_packets,
        tx_bytes=tx_bytes,
        tx_pps=_per_second(tx_packets, period_s),
        tx_bps=_per_second(tx_bytes, period_s, 8),
        tx_sizes=_deltas(prev.tx_sizes, cur.tx_sizes),
    )
