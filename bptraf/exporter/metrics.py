"""The metric families of one scrape: the Source read at scrape time, named as dashboards expect.

Counters are the kernel maps' totals since attach: the maps are never reset (feature switches swap
the program behind the XDP link and keep the maps), so every counter only grows while bptraf runs.
The one value bptraf keeps itself is the size histogram's `_sum` (see `SizeSum`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from bptraf import __version__, flows
from bptraf.counters import Counter, size_bounds
from bptraf.exporter.families import Families, Labels
from bptraf.model import Attachment, Snapshot
from bptraf.source import Feature, Source

DIRECTIONS = ("receive", "transmit")
PAST = {"receive": "received", "transmit": "sent"}


@dataclass(frozen=True)
class SizeSum:
    """The size histogram's `_sum` for one interface and direction, carried from read to read."""

    packets: int = 0  # the `all` counter at the last read
    bytes: int = 0
    sized: int = 0  # packets in the size buckets at the last read
    on: bool = False  # sizes were counted at the last read
    sum: int = 0


def advance(prev: SizeSum, packets: int, nbytes: int, sized: int, on: bool) -> SizeSum:
    """The `_sum` after one more read. The kernel buckets packets, not bytes: while sizes stay on,
    every byte received is in a bucket, so the `all` counter's bytes are the sum exactly; across a
    switch (TUI key z) the interval's bytes are shared out by the part of its packets that were
    bucketed. Never less than before, so `_sum` stays a counter."""
    dp, db, ds = packets - prev.packets, nbytes - prev.bytes, sized - prev.sized
    if prev.on and on:
        add = db
    elif dp > 0:
        add = db * min(max(ds, 0), dp) // dp
    else:
        add = 0
    return SizeSum(packets, nbytes, sized, on, prev.sum + max(add, 0))


def protocol(counter_name: str) -> str:
    """The `protocol` label of an L3 or L4 counter: `l3_other` and `l4_other` are `other`."""
    return counter_name.split("_", 1)[1] if counter_name in ("l3_other", "l4_other") else counter_name


def _sides(snap: Snapshot) -> Iterator[tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(direction, packets, bytes, sizes) for each direction the snapshot counts."""
    yield DIRECTIONS[0], snap.packets, snap.bytes, snap.sizes
    if snap.tx_packets:
        yield DIRECTIONS[1], snap.tx_packets, snap.tx_bytes, snap.tx_sizes


@dataclass(frozen=True)
class Series:
    """One class counter in one unit and direction: where it goes, worked out once per counter list."""

    index: int  # in the Snapshot's tuples
    unit: str  # packets | bytes
    family: str
    doc: str
    labels: tuple[str, ...]
    protocol: str | None  # the `protocol` label's value, for L3 and L4


@cache
def plan(counters: tuple[Counter, ...], d: str) -> tuple[Series, ...]:
    """The series of every class counter in direction `d`: totals, L3, L4, then flags such as vlan."""
    out = []
    for c in counters:
        for unit in ("packets", "bytes"):
            if c.group == "TOTAL":
                doc = f"Frames {PAST[d]} ({unit}), every one."
                out.append(Series(c.index, unit, f"bptraf_{d}_{unit}_total", doc, ("interface",), None))
            elif c.group in ("L3", "L4"):
                name = f"bptraf_{d}_{c.group.lower()}_{unit}_total"
                doc = f"Frames {PAST[d]} ({unit}) by {c.group} protocol."
                out.append(Series(c.index, unit, name, doc, ("interface", "protocol"), protocol(c.name)))
            else:
                doc = f"Frames {PAST[d]} ({unit}) that carried {c.label}, counted besides their class."
                out.append(Series(c.index, unit, f"bptraf_{d}_{c.name}_{unit}_total", doc, ("interface",), None))
    return tuple(out)


def series_labels(a: Attachment, s: Series) -> Labels:
    return (("interface", a.iface),) if s.protocol is None else (("interface", a.iface), ("protocol", s.protocol))


Rows = dict[str, tuple[tuple[Series, str, Labels], ...]]  # per direction: series, family, labels


def counter_families(out: Families, snap: Snapshot, rows: Rows) -> None:
    """Every class counter of one interface, in both directions where the snapshot has them."""
    for d, packets, nbytes, _sizes in _sides(snap):
        for s, family, labels in rows[d]:
            out.add(family, s.doc, "counter", s.family, labels, (packets if s.unit == "packets" else nbytes)[s.index])


@cache
def les() -> tuple[str, ...]:
    """The histogram's `le` values: kernel/counters.h's bounds, then +Inf."""
    return (*(floatToGoString(b) for b in size_bounds()), "+Inf")


def size_histogram(out: Families, a: Attachment, d: str, sizes: Sequence[int], total: int) -> None:
    """Frame sizes as a histogram: `le` from kernel/counters.h, `_count` packets, `_sum` bytes."""
    name = f"bptraf_{d}_frame_size_bytes"
    doc = f"Sizes of the frames {PAST[d]} while sizes were counted (bytes; _count is packets, _sum bytes)."
    running = 0
    for le, n in zip(les(), sizes):
        running += n
        out.add(name, doc, "histogram", f"{name}_bucket", (("interface", a.iface), ("le", le)), running)
    out.add(name, doc, "histogram", f"{name}_count", (("interface", a.iface),), running)
    out.add(name, doc, "histogram", f"{name}_sum", (("interface", a.iface),), total)


def per_cpu(out: Families, a: Attachment, snap: Snapshot) -> None:
    doc = "Frames received, by the CPU that ran the XDP program."
    for cpu, n in enumerate(snap.cpu_packets):
        labels = (("interface", a.iface), ("cpu", str(cpu)))
        out.add("bptraf_cpu_receive_packets", doc, "counter", "bptraf_cpu_receive_packets_total", labels, n)


def flow_families(out: Families, names: Sequence[str], top: Sequence[flows.FlowRate], tx: bool = False) -> None:
    """Per-conversation totals: received from src, and (with `tx`) sent back to it, under the same labels
    (src and dst as a received frame has them) so the two directions of one conversation join."""
    for direction in DIRECTIONS if tx else DIRECTIONS[:1]:
        for unit in ("packets", "bytes"):
            field = unit if direction == "receive" else f"tx_{unit}"
            said = {"receive": "received from src", "transmit": "sent back to src"}[direction]
            doc = f"Top flows by rate since the previous scrape ({unit} {said} since the flow was first seen)."
            for r in top:
                f = r.flow
                iface = names[f.slot] if f.slot < len(names) else str(f.slot)
                labels = (("interface", iface), ("protocol", f.proto_name), ("src", f.src), ("sport", str(f.sport)),
                          ("dst", f.dst), ("dport", str(f.dport)))  # fmt: skip
                family = f"bptraf_{direction}_flow_{unit}"
                out.add(family, doc, "counter", f"{family}_total", labels, getattr(f, field))


class Collector:
    """A prometheus_client collector that reads the Source at scrape time and keeps nothing running
    between scrapes. Scrapes may come from several connections: one lock orders them."""

    def __init__(
        self,
        source: Source,
        program_id: Callable[[Attachment], int | None] = lambda _a: None,
        flows_top: int = 0,
        mono: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.source = source
        self._program_id = program_id
        self._flows_top = flows_top
        self._mono = mono
        self._lock = threading.Lock()
        on = Feature.SIZES in source.features
        self._sums = [{d: SizeSum(on=on) for d in DIRECTIONS} for _ in source.attachments]
        self._rows: list[Rows] = [
            {
                d: tuple((s, s.family[: -len("_total")], series_labels(a, s)) for s in plan(a.counters, d))
                for d in DIRECTIONS
            }
            for a in source.attachments
        ]
        self._templates: dict = {}  # sample lines' prefixes, made once per series
        self._prog_ids: dict[tuple[int, Feature], int | None] = {}
        self._prev_flows: dict[tuple, flows.Flow] = {}
        self._prev_flows_ns = mono()

    def describe(self) -> list[Metric]:
        return []  # the families depend on what the source counts now: nothing to declare up front

    def collect(self) -> list[Metric]:
        with self._lock:
            features = self.source.features
            snaps = self.source.read()
            found = self.source.read_flows() if self._flows_top and Feature.FLOWS in features else None
            return self._families(features, snaps, found)

    def _families(self, features: Feature, snaps: Sequence[Snapshot], found: list[flows.Flow] | None) -> list[Metric]:
        out = Families(self._templates)
        sizes_on = Feature.SIZES in features
        for slot, (a, snap) in enumerate(zip(self.source.attachments, snaps)):
            counter_families(out, snap, self._rows[slot])
            for d, packets, nbytes, sizes in _sides(snap):
                if not sizes:
                    continue
                s = self._sums[slot][d] = advance(self._sums[slot][d], packets[0], nbytes[0], sum(sizes), sizes_on)
                if sizes_on:
                    size_histogram(out, a, d, sizes, s.sum)
            per_cpu(out, a, snap)
        doc = "The XDP program bptraf runs on each interface."
        for slot, a in enumerate(self.source.attachments):
            labels = (("interface", a.iface), ("mode", a.mode), ("action", a.action),
                      ("program_id", self._prog(slot, a, features)))  # fmt: skip
            out.add("bptraf_xdp", doc, "info", "bptraf_xdp_info", labels, 1)
        out.add("bptraf_build", "bptraf's version.", "info", "bptraf_build_info", (("version", __version__),), 1)
        if found is not None:
            tx = Feature.TX in features
            flow_families(out, [a.iface for a in self.source.attachments], self._top(found), tx)
        return out.all()

    def _prog(self, slot: int, a: Attachment, features: Feature) -> str:
        """The attached program's id; it changes only when a feature switch swaps the program."""
        key = (slot, features)
        if key not in self._prog_ids:
            self._prog_ids[key] = self._program_id(a)
        found = self._prog_ids[key]
        return "" if found is None else str(found)

    def _top(self, found: list[flows.Flow]) -> list[flows.FlowRate]:
        """The biggest flows by bytes per second since the previous scrape: rates need two reads, so
        the collector keeps the previous scrape's totals (a flow new to this scrape counts from zero)."""
        now = self._mono()
        rated = flows.rates(self._prev_flows, found, (now - self._prev_flows_ns) / 1e9)
        self._prev_flows, self._prev_flows_ns = {f.key: f for f in found}, now
        return flows.top(rated, self._flows_top, "bps")
