"""What the TUI shows for one interface: running statistics kept for display only (pure, no I/O)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bptraf.flows import FlowRate
from bptraf.model import Attachment
from bptraf.rates import Rates, delta, per_second

WINDOW_S = 300.0  # the plots' span, whatever the interval
HISTORY = 3000  # samples kept for the plots: the whole window at -i 0.1


@dataclass(frozen=True)
class NicCounters:
    """The kernel's own interface counters (psutil), at one instant (monotonic ns)."""

    ts_ns: int
    rx_packets: int = 0
    rx_bytes: int = 0
    tx_packets: int = 0
    tx_bytes: int = 0
    rx_errors: int = 0
    rx_drops: int = 0
    tx_errors: int = 0
    tx_drops: int = 0


@dataclass(frozen=True)
class NicRates:
    rx_pps: float
    rx_bps: float
    tx_pps: float
    tx_bps: float
    rx_errors: int  # in the interval
    rx_drops: int
    tx_errors: int
    tx_drops: int


def nic_rates(prev: NicCounters, cur: NicCounters) -> NicRates:
    period = max(cur.ts_ns - prev.ts_ns, 0) / 1e9

    def per_s(a: int, b: int, scale: int = 1) -> float:
        return per_second(delta(a, b), period, scale)

    return NicRates(
        rx_pps=per_s(prev.rx_packets, cur.rx_packets),
        rx_bps=per_s(prev.rx_bytes, cur.rx_bytes, 8),
        tx_pps=per_s(prev.tx_packets, cur.tx_packets),
        tx_bps=per_s(prev.tx_bytes, cur.tx_bytes, 8),
        rx_errors=delta(prev.rx_errors, cur.rx_errors),
        rx_drops=delta(prev.rx_drops, cur.rx_drops),
        tx_errors=delta(prev.tx_errors, cur.tx_errors),
        tx_drops=delta(prev.tx_drops, cur.tx_drops),
    )


class Board:
    """Peaks, averages, totals and history per counter for one interface; reset() clears the display only."""

    def __init__(self, attachment: Attachment, ncpus: int, history: int = HISTORY) -> None:
        self.attachment = attachment
        self.ncpus = ncpus
        n = len(attachment.counters)
        self.last: Rates | None = None
        self.flows: tuple[FlowRate, ...] | None = None  # the last interval's flows, when counted
        self.nic: NicRates | None = None
        self._nic_prev: NicCounters | None = None
        # When each interval ended (sample time, seconds) and how long it was, shared by every series.
        self.times: deque[float] = deque(maxlen=history)
        self.periods: deque[float] = deque(maxlen=history)
        self.pps_history = [deque(maxlen=history) for _ in range(n)]
        self.bps_history = [deque(maxlen=history) for _ in range(n)]
        self.tx_seen = False  # some interval carried TX counts
        self.reset()

    def reset(self) -> None:
        n = len(self.attachment.counters)
        self.peak_pps = [0.0] * n
        self.packets = [0] * n
        self.bytes = [0] * n
        self.tx_packets = [0] * n
        self.tx_bytes = [0] * n
        self.elapsed_s = 0.0

    def add(self, rates: Rates, when: float) -> None:
        """One interval that ended at `when` (the sample's time, seconds)."""
        self.last = rates
        self.elapsed_s += rates.period_s
        self.times.append(when)
        self.periods.append(rates.period_s)
        tx = len(rates.tx_packets) == len(self.packets)
        self.tx_seen = self.tx_seen or tx
        for i in range(len(self.packets)):
            self.packets[i] += rates.packets[i]
            self.bytes[i] += rates.bytes[i]
            if tx:
                self.tx_packets[i] += rates.tx_packets[i]
                self.tx_bytes[i] += rates.tx_bytes[i]
            self.peak_pps[i] = max(self.peak_pps[i], rates.pps[i])
            self.pps_history[i].append(rates.pps[i])
            self.bps_history[i].append(rates.bps[i])

    def add_nic(self, nic: NicCounters) -> None:
        """Take the kernel's counters; rates appear from the second call on."""
        if self._nic_prev is not None:
            self.nic = nic_rates(self._nic_prev, nic)
        self._nic_prev = nic

    def pps(self, i: int) -> float:
        return self.last.pps[i] if self.last else 0.0

    def bps(self, i: int) -> float:
        return self.last.bps[i] if self.last else 0.0

    def tx_pps(self, i: int) -> float:
        return self.last.tx_pps[i] if self.last and self.last.tx_pps else 0.0

    def tx_bps(self, i: int) -> float:
        return self.last.tx_bps[i] if self.last and self.last.tx_bps else 0.0

    def idle(self, i: int) -> bool:
        """No packet either way since start (or the last reset): a row the hide key leaves out."""
        return self.packets[i] == 0 and self.tx_packets[i] == 0

    def share(self, i: int) -> float:
        """This counter's part of `all` in the last interval, 0..1."""
        total = self.pps(0)
        return self.pps(i) / total if total else 0.0

    def avg_pps(self, i: int) -> float:
        return self.packets[i] / self.elapsed_s if self.elapsed_s else 0.0
