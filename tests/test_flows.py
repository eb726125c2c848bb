"""Flow decoding, rates, top N and grouping, without a kernel."""

import struct

import numpy as np
import pytest

from bptraf import flowarray, flows, flowtable
from bptraf.counters import size_bounds, size_labels
from bptraf.flows import Flow


def keys4(*rows) -> np.ndarray:
    """IPv4 keys as the kernel lays them out: (src, dst, sport, dport, proto, slot), ports in network order."""
    raw = b"".join(bytes(src) + bytes(dst) + struct.pack("!HHBBBx", sp, dp, proto, slot, 0)
                   for src, dst, sp, dp, proto, slot in rows)  # fmt: skip
    return np.frombuffer(raw, flowtable.KEY4)


def keys6(*rows) -> np.ndarray:
    raw = b"".join(src + dst + struct.pack("!HHBBBx", sp, dp, proto, slot, 0) for src, dst, sp, dp, proto, slot in rows)
    return np.frombuffer(raw, flowtable.KEY6)


def values(*rows) -> np.ndarray:
    return np.frombuffer(b"".join(struct.pack("=QQQQ", p, b, 0, 0) for p, b in rows), flowtable.VALUE)


FD00_2 = bytes.fromhex("fd00" + "00" * 13 + "02")
FD00_1 = bytes.fromhex("fd00" + "00" * 13 + "01")
MAPPED = bytes(10) + b"\xff\xff" + bytes([198, 18, 0, 9])  # an IPv4-mapped address in an IPv6 header


def test_layouts_match_the_c_structs():
    assert (flowtable.KEY4.itemsize, flowtable.KEY6.itemsize, flowtable.VALUE.itemsize) == (16, 40, 32)


def test_decode_both_tables_into_flows():
    table = flowtable.decode(
        keys4(([198, 18, 0, 2], [198, 18, 0, 1], 4000, 53, 17, 1), ([10, 0, 0, 1], [10, 0, 0, 2], 0, 0, 1, 0)),
        values((5, 500), (2, 196)),
        keys6((FD00_2, FD00_1, 40000, 443, 6, 2), (MAPPED, FD00_1, 0, 0, 58, 0)),
        values((7, 7000), (1, 90)),
    )
    got = [(f.slot, f.proto_name, f.src, f.sport, f.dst, f.dport, f.packets, f.bytes) for f in flows.from_table(table)]
    assert got == [
        (1, "udp", "198.18.0.2", 4000, "198.18.0.1", 53, 5, 500),
        (0, "icmp", "10.0.0.1", 0, "10.0.0.2", 0, 2, 196),
        (2, "tcp", "fd00::2", 40000, "fd00::1", 443, 7, 7000),
        (0, "icmpv6", "198.18.0.9", 0, "fd00::1", 0, 1, 90),
    ]


def test_decode_empty_tables():
    assert flows.from_table(flowtable.decode(keys4(), values(), keys6(), values())) == []


def test_key_hash_tells_keys_apart_and_is_stable():
    k = keys4(([198, 18, 0, 2], [198, 18, 0, 1], 4000, 53, 17, 0), ([198, 18, 0, 2], [198, 18, 0, 1], 4001, 53, 17, 0))
    raw = np.ascontiguousarray(k).view(np.uint8).reshape(2, 16)
    h = flowtable.key_hash(raw)
    assert h[0] != h[1]
    assert (flowtable.key_hash(raw.copy()) == h).all()


def test_least_active_flows_are_evicted_first():
    table = np.zeros(4, flowtable.FLOW)
    table["last_ns"] = [30, 10, 10, 20]
    table["packets"] = [1, 9, 2, 1]
    assert flowtable._least_active(table["last_ns"], table["packets"], np.ones(4, bool), 2).tolist() == [
        False,
        True,
        True,
        False,
    ]
    assert flowtable._least_active(table["last_ns"], table["packets"], np.array([True, False, False, True]), 1).tolist() == [
        False, False, False, True,
    ]  # fmt: skip


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


def _rows() -> np.ndarray:
    """Four flows of one read, with what each gained since the last one."""
    table = flowtable.decode(
        keys4(
            ([198, 18, 0, 2], [198, 18, 0, 1], 4000, 53, 17, 0),
            ([198, 18, 0, 3], [198, 18, 0, 1], 4001, 53, 17, 0),
            ([198, 18, 0, 2], [198, 18, 0, 1], 5000, 80, 6, 0),
        ),  # fmt: skip
        values((30, 3000), (5, 9000), (10, 500)),
        keys6((FD00_2, FD00_1, 40000, 443, 6, 1)),
        values((7, 7000)),
    )
    table["d_packets"] = [20, 5, 1, 7]
    table["d_bytes"] = [2000, 9000, 50, 7000]
    return table


@pytest.mark.parametrize("by", flows.SORT_KEYS)
def test_rows_sort_as_records_do(by):
    shown = flowarray.FlowArray(_rows()).rates(0, 2.0)
    assert len(shown) == 3
    as_records = list(shown)
    assert [(r.flow.sport, r.packets, r.pps, r.bps) for r in as_records] == [
        (4000, 20, 10.0, 8000.0), (4001, 5, 2.5, 36000.0), (5000, 1, 0.5, 200.0),
    ]  # fmt: skip
    assert flows.top(shown, 2, by) == flows.top(as_records, 2, by)


@pytest.mark.parametrize("by", ["src", "dst", "port"])
def test_rows_group_as_records_do(by):
    shown = flowarray.FlowArray(_rows()).rates(0, 2.0)
    assert sorted(flows.group(shown, by), key=lambda g: g.name) == sorted(
        flows.group(list(shown), by), key=lambda g: g.name
    )


def test_rows_of_the_other_interface_stay_apart():
    (only,) = flowarray.FlowArray(_rows()).rates(1, 1.0)
    assert (only.flow.src, only.flow.dport, only.packets, only.bps) == ("fd00::2", 443, 7, 56000.0)


def test_flow_dtypes_match_the_c_structs_as_compiled():
    """Every field's offset and each struct's size, as the C compiler lays out kernel/counters.h."""
    from cprobe import layout

    for dtype, cname in (
        (flowtable.KEY4, "bptraf_flow4_key"),
        (flowtable.KEY6, "bptraf_flow6_key"),
        (flowtable.VALUE, "bptraf_flow"),
    ):
        c = layout(cname, dtype.names)
        assert dtype.itemsize == c["sizeof"], cname
        assert {n: dtype.fields[n][1] for n in dtype.names} == {n: c[n] for n in dtype.names}, cname
