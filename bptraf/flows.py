"""Top flows, pure: flow records from a decoded table, rates from two reads, top N, grouping by host or port."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from bptraf.rates import delta, per_second

PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}
GROUPS = ("flow", "src", "dst", "port")

# Sort orders, largest first: the fields summed for the order, then for the tie-break. Rates (pps, bps,
# tx_pps, tx_bps) are the interval's; packets, bytes and their tx_ twins are totals since first seen.
# `bps` and `pps` count both ways (received + sent), `rx_`/`tx_` one way; `total` is bytes both ways.
SORTS = {
    "bps": (("bps", "tx_bps"), ("bytes", "tx_bytes")),
    "rx_bps": (("bps",), ("bytes",)),
    "tx_bps": (("tx_bps",), ("tx_bytes",)),
    "pps": (("pps", "tx_pps"), ("packets", "tx_packets")),
    "rx_pps": (("pps",), ("packets",)),
    "tx_pps": (("tx_pps",), ("tx_packets",)),
    "total": (("bytes", "tx_bytes"), ("bps", "tx_bps")),
}
SORT_KEYS = tuple(SORTS)
RX_SORT_KEYS = ("bps", "pps", "total")  # while nothing sent is counted, the one-way orders say nothing more
SORT_LABELS = {
    "bps": "bps both ways",
    "rx_bps": "<= bps received",
    "tx_bps": "=> bps sent",
    "pps": "pps both ways",
    "rx_pps": "<= pps received",
    "tx_pps": "=> pps sent",
    "total": "total bytes",
}
RATES = ("pps", "bps", "tx_pps", "tx_bps")
_TOTALS = ("packets", "bytes", "tx_packets", "tx_bytes")


@dataclass(frozen=True)
class Flow:
    """One conversation's totals since it was first seen: packets/bytes received from `src` (as the
    kernel keys them: src and dst as a received frame has them), tx_packets/tx_bytes sent back to it."""

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
    tx_packets: int = 0
    tx_bytes: int = 0

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
    """One conversation in one interval: what was received (and sent, tx_) in it, the rates, and its totals."""

    flow: Flow
    packets: int
    bytes: int
    pps: float
    bps: float
    tx_packets: int = 0
    tx_bytes: int = 0
    tx_pps: float = 0.0
    tx_bps: float = 0.0

    def value(self, name: str) -> float:
        """A sort field: a rate of the interval, or a total since first seen."""
        return getattr(self, name) if name in RATES else getattr(self.flow, name)


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
                                              "last_ns", "dir", "tx_packets", "tx_bytes"))  # fmt: skip
    return [
        Flow(slot, proto, address(src), sport, address(dst), dport, packets, nbytes, first, last, d, tp, tb)
        for src, dst, slot, proto, sport, dport, packets, nbytes, first, last, d, tp, tb in zip(srcs, dsts, *cols)
    ]


def rates(prev: dict[tuple, Flow], cur: Iterable[Flow], period_s: float) -> list[FlowRate]:
    """Each conversation's growth both ways since the previous read; a flow new to this read counts from zero."""
    out = []
    for f in cur:
        before = prev.get(f.key)
        grew = [delta(getattr(before, n), getattr(f, n)) if before else getattr(f, n) for n in _TOTALS]
        dp, db, dtp, dtb = grew
        out.append(FlowRate(f, dp, db, per_second(dp, period_s), per_second(db, period_s, 8),
                            dtp, dtb, per_second(dtp, period_s), per_second(dtb, period_s, 8)))  # fmt: skip
    return out


def top(flows: Iterable[FlowRate], n: int, by: str = "bps") -> list[FlowRate]:
    """The n biggest by a SORTS order (both ways, received or sent; rates or total bytes); ties broken
    by key for stable output."""
    if hasattr(flows, "top"):  # a decoded kernel table sorts itself, without a record per flow
        return flows.top(n, by)
    first, second = SORTS[by]

    def order(r: FlowRate) -> tuple:
        return (-sum(r.value(f) for f in first), -sum(r.value(f) for f in second), r.flow.key)

    return sorted(flows, key=order)[:n]


@dataclass(frozen=True)
class Group:
    """Conversations summed by host or port: the interval's counts and rates both ways, totals since first seen."""

    name: str
    flows: int
    packets: int  # received in the interval
    bytes: int
    pps: float
    bps: float
    total_bytes: int  # received since first seen
    tx_packets: int = 0  # sent in the interval
    tx_bytes: int = 0
    tx_pps: float = 0.0
    tx_bps: float = 0.0
    tx_total_bytes: int = 0

    def value(self, by: str) -> float:
        """The group's figure for a SORTS order (rates, or total bytes both ways)."""
        if by == "total":
            return self.total_bytes + self.tx_total_bytes
        return sum(getattr(self, f) for f in SORTS[by][0])


def group(flows: Iterable[FlowRate], by: str) -> list[Group]:
    """Sum flows by source host, destination host or destination port (`proto/port`)."""
    if hasattr(flows, "group"):
        return flows.group(by)
    acc: dict[str, list] = {}
    for r in flows:
        f = r.flow
        name = {"src": f.src, "dst": f.dst, "port": f"{f.proto_name}/{f.dport}"}[by]
        a = acc.setdefault(name, [0] * 11)
        for i, v in enumerate((1, r.packets, r.bytes, r.pps, r.bps, f.bytes,
                               r.tx_packets, r.tx_bytes, r.tx_pps, r.tx_bps, f.tx_bytes)):  # fmt: skip
            a[i] += v
    return [Group(name, *a) for name, a in acc.items()]
