"""Top flows, pure: flow records from a decoded table, rates from two reads, top N, grouping by host or port."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from bptraf.rates import delta, per_second

PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}
SORT_KEYS = ("bps", "pps", "total")
GROUPS = ("flow", "src", "dst", "port")


@dataclass(frozen=True)
class Flow:
    """One flow's totals since it was first seen, summed over CPUs."""

    slot: int  # which watched interface
    proto: int
    src: str
    sport: int
    dst: str
    dport: int
    packets: int
    bytes: int
    first_ns: int  # CLOCK_MONOTONIC of the read that first saw it
    last_ns: int  # ... and of the read that first saw its count as it is now
    dir: int = 0  # 0: received

    @property
    def key(self) -> tuple:
        return (self.slot, self.dir, self.proto, self.src, self.sport, self.dst, self.dport)

    @property
    def proto_name(self) -> str:
        return PROTOCOLS.get(self.proto, str(self.proto))


@dataclass(frozen=True)
class TableState:
    """What the last read found beyond the flows: cumulative since the tables were opened."""

    evicted: int = 0  # flows deleted to make room in a full table
    untracked_packets: int = 0  # packets of flows that found the table full (counted in the totals)
    full: bool = False  # a table was full at this read


@dataclass(frozen=True)
class FlowRate:
    """One flow in one interval: what it sent in it, its rates, and its totals."""

    flow: Flow
    packets: int
    bytes: int
    pps: float
    bps: float


_ADDRESSES: dict[bytes, str] = {}


def address(raw: bytes) -> str:
    """An address as text; cached, since a table holds the same hosts many times over."""
    text = _ADDRESSES.get(raw)
    if text is None:
        if len(_ADDRESSES) > 65536:
            _ADDRESSES.clear()
        ip = ipaddress.IPv6Address(raw)
        text = _ADDRESSES[raw] = str(ip.ipv4_mapped) if ip.ipv4_mapped else str(ip)
    return text


def from_table(table) -> list[Flow]:
    """Flow records from a decoded table (bptraf.flowtable.FLOW rows), a column at a time."""
    if not len(table):
        return []
    srcs = table["src"].copy().view("V16").ravel().tolist()
    dsts = table["dst"].copy().view("V16").ravel().tolist()
    cols = (table[name].tolist() for name in ("slot", "proto", "sport", "dport", "packets", "bytes", "first_ns",
                                              "last_ns", "dir"))  # fmt: skip
    return [
        Flow(slot, proto, address(src), sport, address(dst), dport, packets, nbytes, first, last, d)
        for src, dst, slot, proto, sport, dport, packets, nbytes, first, last, d in zip(srcs, dsts, *cols)
    ]


def rates(prev: dict[tuple, Flow], cur: Iterable[Flow], period_s: float) -> list[FlowRate]:
    """Each flow's growth since the previous read; a flow new to this read counts from zero."""
    out = []
    for f in cur:
        before = prev.get(f.key)
        dp = delta(before.packets, f.packets) if before else f.packets
        db = delta(before.bytes, f.bytes) if before else f.bytes
        out.append(FlowRate(f, dp, db, per_second(dp, period_s), per_second(db, period_s, 8)))
    return out


def top(flows: Iterable[FlowRate], n: int, by: str = "bps") -> list[FlowRate]:
    """The n biggest, by current bps, current pps or total bytes; ties broken by key for stable output."""
    if hasattr(flows, "top"):  # a decoded kernel table sorts itself, without a record per flow
        return flows.top(n, by)
    keyfn = {
        "bps": lambda r: (r.bps, r.flow.bytes),
        "pps": lambda r: (r.pps, r.flow.packets),
        "total": lambda r: (r.flow.bytes, r.bps),
    }[by]
    return sorted(flows, key=lambda r: (tuple(-v for v in keyfn(r)), r.flow.key))[:n]


@dataclass(frozen=True)
class Group:
    name: str
    flows: int
    packets: int  # in the interval
    bytes: int
    pps: float
    bps: float
    total_bytes: int


def group(flows: Iterable[FlowRate], by: str) -> list[Group]:
    """Sum flows by source host, destination host or destination port (`proto/port`)."""
    if hasattr(flows, "group"):
        return flows.group(by)
    acc: dict[str, list] = {}
    for r in flows:
        f = r.flow
        name = {"src": f.src, "dst": f.dst, "port": f"{f.proto_name}/{f.dport}"}[by]
        a = acc.setdefault(name, [0, 0, 0, 0.0, 0.0, 0])
        a[0] += 1
        a[1] += r.packets
        a[2] += r.bytes
        a[3] += r.pps
        a[4] += r.bps
        a[5] += f.bytes
    return [Group(name, *a) for name, a in acc.items()]
