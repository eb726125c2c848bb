"""The sampling loop: read the source every interval, hand each interval's rates to a renderer."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bptraf import flows
from bptraf.errors import InterfaceGone
from bptraf.flows import Flow, FlowRate, TableState
from bptraf.model import Snapshot
from bptraf.rates import Rates, compute
from bptraf.source import Feature, Source

if TYPE_CHECKING:  # numpy loads only when flows are counted
    from bptraf.flowarray import FlowArray, FlowRates


@dataclass(frozen=True)
class Sample:
    """One interval for every attachment: wall-clock time, rates, and totals since attach."""

    time: float  # seconds since the epoch, when the interval ended
    rates: tuple[Rates, ...]
    totals: tuple[Snapshot, ...]
    flows: tuple[tuple[FlowRate, ...] | FlowRates, ...] | None = None  # per attachment, when flows are on
    features: Feature = Feature.NONE  # what the source counted beyond the classes in this interval
    # The flow table in this interval: flows evicted to make room, packets of flows that found no room
    # (counted in the totals, not per flow), and whether it was full (the TUI says so).
    flows_evicted: int = 0
    flows_untracked: int = 0
    flows_full: bool = False


class Sampler:
    """Keeps the previous snapshot so each read yields one interval; the maps are never reset."""

    def __init__(self, source: Source, wall: Callable[[], float] = time.time) -> None:
        self.source = source
        self._wall = wall
        self._prev = source.zero()
        self._prev_flows: dict[tuple, Flow] = {}
        self._prev_table = TableState()
        self._prev_rows: FlowArray | None = None

    def sample(self) -> Sample:
        features = self.source.features
        # Flows first, then the counters: a packet is counted before its flow is, so every flow's total
        # is within the counters' totals. An interval's flow deltas can still differ from its counter
        # deltas by the packets that arrive during the reads (microseconds; a few ms for a full table).
        found = self.source.read_flows() if Feature.FLOWS in features else None
        cur = self.source.read()
        rates = tuple(compute(p, c) for p, c in zip(self._prev, cur))
        self._prev = cur
        per_iface = None
        table = getattr(self.source, "flow_state", TableState())  # sources without a kernel table have none
        extra = {}
        if found is not None:
            period = rates[0].period_s if rates else 0.0
            if hasattr(found, "since"):  # a FlowArray, the kernel's table as rows: growth matched in numpy
                found = found.since(self._prev_rows)
                self._prev_rows = found
                per_iface = tuple(found.rates(i, period) for i in range(len(cur)))
            else:
                flow_rates = flows.rates(self._prev_flows, found, period)
                self._prev_flows = {f.key: f for f in found}
                per_iface = tuple(tuple(r for r in flow_rates if r.flow.slot == i) for i in range(len(cur)))
            extra = {
                "flows_evicted": table.evicted - self._prev_table.evicted,
                "flows_untracked": table.untracked_packets - self._prev_table.untracked_packets,
                "flows_full": table.full,
            }
        else:
            self._prev_flows, self._prev_rows = {}, None
        self._prev_table = table
        return Sample(self._wall(), rates, cur, per_iface, features, **extra)

    def check(self) -> None:
        """Raise InterfaceGone if a watched interface was removed, renamed or moved (the source says which)."""
        gone = self.source.gone()
        if gone:
            raise InterfaceGone("; ".join(gone))


def next_deadline(deadline: float, interval: float, now: float) -> float:
    """One interval on from the last deadline, so the loop's own work does not make the period drift;
    one interval from now if the loop fell behind (suspend, slow terminal): skip, never burst."""
    deadline += interval
    return deadline if deadline > now else now + interval


class Wait(enum.Enum):
    """What ended a wait between samples."""

    TIMEOUT = 0  # the deadline came: sample
    STOP = 1  # stop: sample the partial interval, then return
    WAKE = 2  # the interval changed: start a new deadline from now, no sample


def run(
    sampler: Sampler,
    interval_s: float | Callable[[], float],
    count: int | None,
    wait: Callable[[float], Wait],
    emit: Callable[[Sample], None],
    mono: Callable[[], int] = time.monotonic_ns,
) -> None:
    """Emit one Sample per interval until `count` is reached or `wait` reports a stop.

    The one sampling loop: plain, JSON and the TUI's worker all run it. `interval_s` may be a
    callable read at every deadline (the TUI changes it at run time and wakes the wait). Deadlines
    advance as next_deadline() says. A stop emits the partial interval, so no counted packet is lost.
    """
    interval = interval_s if callable(interval_s) else lambda: interval_s
    deadline = mono() + int(interval() * 1e9)
    done = 0
    while count is None or done < count:
        why = wait(max(deadline - mono(), 0) / 1e9)
        if why is Wait.WAKE:
            deadline = mono() + int(interval() * 1e9)
            continue
        emit(sampler.sample())
        done += 1
        sampler.check()
        if why is Wait.STOP:
            return
        deadline = next_deadline(deadline, int(interval() * 1e9), mono())
