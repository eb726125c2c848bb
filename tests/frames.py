"""Ethernet frames built byte by byte, each with the counters it must land in (written out by hand)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

DST = bytes.fromhex("ffffffffffff")
SRC = bytes.fromhex("020000000002")


def eth(ethertype: int, payload: bytes, tags: tuple[int, ...] = ()) -> bytes:
    """An Ethernet header, VLAN tags (given as TPIDs, outermost first), then the payload."""
    out = DST + SRC
    for i, tpid in enumerate(tags):
        out += struct.pack("!HH", tpid, 100 + i)
    return out + struct.pack("!H", ethertype) + payload


def ipv4(proto: int, l4: bytes, options: bytes = b"", frag_offset: int = 0, ihl: int | None = None) -> bytes:
    ihl = ihl if ihl is not None else 5 + len(options) // 4
    total = 20 + len(options) + len(l4)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag_offset, 64, proto, 0,
                      bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1]))  # fmt: skip
    return hdr + options + l4


def ipv6(nexthdr: int, payload: bytes) -> bytes:
    src = bytes.fromhex("fd00000000000000000000000000000" + "2")
    dst = bytes.fromhex("fd00000000000000000000000000000" + "1")
    return struct.pack("!IHBB", 6 << 28, len(payload), nexthdr, 64) + src + dst + payload


def ext(nexthdr: int, units: int = 0) -> bytes:
    """A hop-by-hop, routing or destination options header of (units + 1) * 8 bytes."""
    return bytes([nexthdr, units]) + bytes(6 + 8 * units)


def frag(nexthdr: int, offset: int = 0, more: bool = False) -> bytes:
    """An IPv6 fragment header: `offset` in 8-byte units, `more` the M (more fragments) flag."""
    return struct.pack("!BBHI", nexthdr, 0, offset << 3 | more, 0x1234)


IPV4_MF = 0x2000  # the IPv4 "more fragments" flag, in the same field as the offset


TCP = bytes(20)
UDP = struct.pack("!HHHH", 4000, 5000, 8 + 18, 0) + bytes(18)
ICMP = bytes([8, 0]) + bytes(30)
SCTP = bytes(12) + bytes(16)
ICMPV6 = bytes([128, 0]) + bytes(30)


@dataclass(frozen=True)
class Kind:
    name: str
    frame: bytes
    counters: frozenset[str]


def kind(name: str, frame: bytes, *counters: str) -> Kind:
    return Kind(name, frame, frozenset(("all", *counters)))


KINDS: tuple[Kind, ...] = (
    kind("ipv4-tcp", eth(0x0800, ipv4(6, TCP)), "ipv4", "tcp"),
    kind("ipv4-udp", eth(0x0800, ipv4(17, UDP)), "ipv4", "udp"),
    kind("ipv4-icmp", eth(0x0800, ipv4(1, ICMP)), "ipv4", "icmp"),
    kind("ipv4-sctp", eth(0x0800, ipv4(132, SCTP)), "ipv4", "sctp"),
    kind("ipv4-options-udp", eth(0x0800, ipv4(17, UDP, options=bytes([1, 1, 1, 0]) * 3)), "ipv4", "udp"),
    kind("ipv4-fragment-udp", eth(0x0800, ipv4(17, bytes(40), frag_offset=185)), "ipv4", "udp"),
    kind("ipv4-fragment-tcp-bytes", eth(0x0800, ipv4(6, bytes(range(1, 41)), frag_offset=185)), "ipv4", "tcp"),
    kind("ipv4-gre", eth(0x0800, ipv4(47, bytes(24))), "ipv4", "l4_other"),
    kind("ipv4-bad-ihl", eth(0x0800, ipv4(6, TCP, ihl=3)), "ipv4", "l4_other"),
    kind("ipv4-options-cut", eth(0x0800, ipv4(6, b"", options=bytes(40))[:40]), "ipv4", "l4_other"),
    kind("ipv4-no-header", eth(0x0800, b""), "ipv4", "l4_other"),
    kind("ipv4-truncated", eth(0x0800, bytes([0x45]) + bytes(9)), "ipv4", "l4_other"),
    kind("ipv6-tcp", eth(0x86DD, ipv6(6, TCP)), "ipv6", "tcp"),
    kind("ipv6-udp", eth(0x86DD, ipv6(17, UDP)), "ipv6", "udp"),
    kind("ipv6-icmpv6", eth(0x86DD, ipv6(58, ICMPV6)), "ipv6", "icmpv6"),
    kind("ipv6-sctp", eth(0x86DD, ipv6(132, SCTP)), "ipv6", "sctp"),
    kind("ipv6-hbh-dst-frag-tcp", eth(0x86DD, ipv6(0, ext(60, 1) + ext(44) + frag(6) + TCP)), "ipv6", "tcp"),
    kind("ipv6-routing-udp", eth(0x86DD, ipv6(43, ext(17, 2) + UDP)), "ipv6", "udp"),
    kind("ipv6-fragment-later-udp", eth(0x86DD, ipv6(44, frag(17, offset=100) + bytes(48))), "ipv6", "udp"),
    kind("ipv6-six-ext", eth(0x86DD, ipv6(60, ext(60) * 5 + ext(6) + TCP)), "ipv6", "tcp"),
    kind(
        "ipv6-six-mixed-udp",
        eth(0x86DD, ipv6(0, ext(43) + ext(60, 1) + ext(60) + ext(44, 2) + frag(60) + ext(17) + UDP)),
        "ipv6",
        "udp",
    ),
    kind("ipv6-seven-ext", eth(0x86DD, ipv6(60, ext(60) * 6 + ext(6) + TCP)), "ipv6", "l4_other"),
    kind("ipv6-ext-cut", eth(0x86DD, ipv6(0, ext(6, 4)[:16])), "ipv6", "l4_other"),
    kind("ipv6-no-next", eth(0x86DD, ipv6(59, bytes(8))), "ipv6", "l4_other"),
    kind("ipv6-truncated", eth(0x86DD, bytes(20)), "ipv6", "l4_other"),
    kind("arp", eth(0x0806, bytes.fromhex("0001080006040001") + bytes(20)), "arp"),
    kind("pppoe-discovery", eth(0x8863, bytes.fromhex("1109000000040101") + bytes(20)), "pppoe"),
    kind("pppoe-session", eth(0x8864, bytes.fromhex("110000010016") + b"\x00\x21" + ipv4(17, UDP)[:20]), "pppoe"),
    kind("vlan-ipv4-udp", eth(0x0800, ipv4(17, UDP), tags=(0x8100,)), "vlan", "ipv4", "udp"),
    kind("qinq-ipv6-icmpv6", eth(0x86DD, ipv6(58, ICMPV6), tags=(0x88A8, 0x8100)), "vlan", "ipv6", "icmpv6"),
    kind("qinq-arp", eth(0x0806, bytes(28), tags=(0x8100, 0x8100)), "vlan", "arp"),
    kind("three-tags", eth(0x0800, ipv4(17, UDP), tags=(0x88A8, 0x8100, 0x8100)), "vlan", "l3_other"),
    kind("vlan-truncated", DST + SRC + b"\x81\x00\x00", "vlan", "l3_other"),
    kind("unknown-ethertype", eth(0x88B5, bytes(46)), "l3_other"),
)


def mix() -> tuple[list[bytes], dict[str, tuple[int, int]]]:
    """Every kind, the i-th sent i + 1 times, and the exact (packets, bytes) expected per counter."""
    frames: list[bytes] = []
    expected: dict[str, list[int]] = {}
    for i, k in enumerate(KINDS):
        frames += [k.frame] * (i + 1)
        for c in k.counters:
            e = expected.setdefault(c, [0, 0])
            e[0] += i + 1
            e[1] += (i + 1) * len(k.frame)
    return frames, {c: (p, b) for c, (p, b) in expected.items()}


def udp(sport: int, dport: int, payload: int = 18) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + payload, 0) + bytes(payload)


def tcp(sport: int, dport: int, payload: int = 0) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x18, 1024, 0, 0) + bytes(payload)


def sctp(sport: int, dport: int, payload: int = 16) -> bytes:
    return struct.pack("!HHII", sport, dport, 7, 0) + bytes(payload)


def padded(frame: bytes, size: int) -> bytes:
    """The frame grown to `size` bytes with trailing zeros (beyond what its headers announce)."""
    return frame + bytes(size - len(frame))
