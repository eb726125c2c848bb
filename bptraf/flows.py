"""Top flows, pure: decode map entries, rates from two reads, top N, grouping by host or port."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from bptraf.rates import delta, per_second

# struct bptraf_flow_key and struct bptraf_flow in kernel/counters.h
KEY = struct.Struct("=16s16sHHBB2x")
VALUE = struct.Struct("=QQQQ")
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
    first_ns: int
    last_ns: int

    @property
    def key(self) -> tuple:
        return (self.slot, self.proto, self.src, self.sport, self.dst, self.dport)

    @property
    def proto_name(self) -> str:
        return PROTOCOLS.get(self.proto, str(self.proto))


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


def decode(key: bytes, values: bytes) -> Flow:
    """A map entry: the key, and its value on every possible CPU back to back (CPUs that never saw
    the flow hold zeros)."""
    src, dst, sport, dport, proto, slot = KEY.unpack(key)
    packets = nbytes = last = first = 0
    for p, b, f, la in VALUE.iter_unpack(values):
        packets += p
        nbytes += b
        if f and (not first or f < first):
            first = f
        if la > last:
            last = la
    return Flow(slot, proto, address(src), _port(sport), address(dst), _port(dport), packets, nbytes, first, last)


def decode_dump(entries: Iterable[tuple[bytes, bytes]]) -> list[Flow]:
    """Every (key, all CPUs' values) pair of a flow-map dump, decoded."""
    return [decode(key, value) for key, value in entries]


def _port(be16: int) -> int:
    """A port as the map holds it (network order, read natively) to a number, and back: a byte swap."""
    return int.from_bytes(be16.to_bytes(2, "little"), "big")


def encode_key(f: Flow) -> bytes:
    """The map key of a decoded flow (to delete it)."""
    return KEY.pack(_packed(f.src), _packed(f.dst), _port(f.sport), _port(f.dport), f.proto, f.slot)


def _packed(addr: str) -> bytes:
    ip = ipaddress.ip_address(addr)
    return (ipaddress.IPv6Address(f"::ffff:{ip}") if ip.version == 4 else ip).packed


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
