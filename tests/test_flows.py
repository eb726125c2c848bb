"""Flow decoding, rates, top N and grouping, without a kernel."""

import struct

import pytest

from bptraf import flows
from bptraf.counters import size_bounds, size_labels
from bptraf.flows import Flow


def raw_key(src: bytes, dst: bytes, sport: int, dport: int, proto: int, slot: int = 0) -> bytes:
    return flows.KEY.pack(src, dst, int.from_bytes(sport.to_bytes(2, "big"), "little"),
                          int.from_bytes(dport.to_bytes(2, "big"), "little"), proto, slot)  # fmt: skip


V4 = lambda a: bytes(10) + b"\xff\xff" + bytes(a)  # noqa: E731


def test_decode_sums_cpus_and_maps_ipv4():
    key = raw_key(V4([198, 18, 0, 2]), V4([198, 18, 0, 1]), 4000, 53, 17, slot=1)
    values = flows.VALUE.pack(3, 300, 50, 90) + flows.VALUE.pack(0, 0, 0, 0) + flows.VALUE.pack(2, 200, 40, 70)
    f = flows.decode(key, values)
    assert (f.slot, f.proto_name, f.src, f.sport, f.dst, f.dport) == (1, "udp", "198.18.0.2", 4000, "198.18.0.1", 53)
    assert (f.packets, f.bytes, f.first_ns, f.last_ns) == (5, 500, 40, 90)


def test_decode_ipv6():
    src = bytes.fromhex("fd000000000000000000000000000002")
    f = flows.decode(raw_key(src, src, 0, 0, 58), flows.VALUE.pack(1, 90, 1, 1))
    assert (f.src, f.proto_name, f.sport) == ("fd00::2", "icmpv6", 0)
    assert flows.decode(raw_key(src, src, 0, 0, 47), flows.VALUE.pack(1, 90, 1, 1)).proto_name == "47"


def flow(sport, packets, nbytes, src="198.18.0.2", dst="198.18.0.1", dport=53, proto=17):
    return Flow(0, proto, src, sport, dst, dport, packets, nbytes, 1, 2)


def test_rates_are_deltas_over_the_period():
    prev = {f.key: f for f in [flow(1, 10, 1000)]}
    rates = flows.rates(prev, [flow(1, 30, 3000), flow(2, 5, 500)], 2.0)
    assert [(r.packets, r.bytes, r.pps, r.bps) for r in rates] == [(20, 2000, 10.0, 8000.0), (5, 500, 2.5, 2000.0)]


def test_a_recreated_flow_counts_from_zero():
    prev = {f.key: f for f in [flow(1, 100, 10_000)]}
    assert flows.rates(prev, [flow(1, 4, 400)], 1.0)[0].packets == 4


@pytest.mark.parametrize("by,order", [("bps", [3, 2, 1]), ("pps", [1, 3, 2]), ("total", [2, 3, 1])])
def test_top_sorts(by, order):
    rs = [
        flows.FlowRate(flow(1, 10, 100), 10, 100, 10.0, 800.0),
        flows.FlowRate(flow(2, 5, 9000), 1, 500, 1.0, 4000.0),
        flows.FlowRate(flow(3, 5, 5000), 5, 900, 5.0, 7200.0),
    ]
    assert [r.flow.sport for r in flows.top(rs, 3, by)] == order
    assert len(flows.top(rs, 2, by)) == 2


def test_group_by_host_and_port():
    rs = [
        flows.FlowRate(flow(1, 1, 100, src="a"), 1, 100, 1.0, 800.0),
        flows.FlowRate(flow(2, 1, 100, src="a", dport=80, proto=6), 2, 200, 2.0, 1600.0),
        flows.FlowRate(flow(3, 1, 100, src="b"), 3, 300, 3.0, 2400.0),
    ]
    by_src = {g.name: (g.flows, g.packets, g.bytes) for g in flows.group(rs, "src")}
    assert by_src == {"a": (2, 3, 300), "b": (1, 3, 300)}
    by_port = {g.name: g.flows for g in flows.group(rs, "port")}
    assert by_port == {"udp/53": 2, "tcp/80": 1}


def test_size_buckets_come_from_the_header():
    assert size_bounds() == (64, 127, 255, 511, 1023, 1518)
    assert size_labels() == ("0-64", "65-127", "128-255", "256-511", "512-1023", "1024-1518", "1519+")


def test_key_layout_matches_the_c_struct():
    assert flows.KEY.size == 40 and flows.VALUE.size == 32
    assert struct.calcsize("=16s16sHHBB2x") == 40


@pytest.mark.parametrize(
    "src,dst", [(V4([198, 18, 0, 2]), V4([198, 18, 0, 1])), (bytes.fromhex("fd00" + "00" * 13 + "02"), bytes(16))]
)
def test_encode_key_round_trips(src, dst):
    key = raw_key(src, dst, 4000, 53, 17, slot=3)
    assert flows.encode_key(flows.decode(key, flows.VALUE.pack(1, 1, 1, 1))) == key
