"""Flow decoding, rates, top N and grouping, without a kernel."""

import struct
from pathlib import Path

import numpy as np
import pytest
from flowmaps import FlowMaps

from bptraf import flowarray, flows, flowtable
from bptraf.counters import size_bounds, size_labels
from bptraf.flows import Flow


def keys4(*rows) -> np.ndarray:
    """IPv4 keys as the kernel lays them out, from (src, dst, sport, dport, proto, slot): ports in network
    order, then the slot's state (used), then the addresses."""
    raw = b"".join(struct.pack("!HHBBBB", sp, dp, proto, slot, 0, flowtable.USED) + bytes(src) + bytes(dst)
                   for src, dst, sp, dp, proto, slot in rows)  # fmt: skip
    return np.frombuffer(raw, flowtable.KEY4)


def keys6(*rows) -> np.ndarray:
    raw = b"".join(struct.pack("!HHBBBB", sp, dp, proto, slot, 0, flowtable.USED) + src + dst
                   for src, dst, sp, dp, proto, slot in rows)  # fmt: skip
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
    for dtype, key, cname in ((flowtable.SLOT4, flowtable.KEY4, "bptraf_flow4_slot"),
                              (flowtable.SLOT6, flowtable.KEY6, "bptraf_flow6_slot")):  # fmt: skip
        c = layout(cname, ("key", "flow"))
        assert (c["sizeof"], c["key"], c["flow"]) == (dtype.itemsize, 0, key.itemsize), cname
        assert dtype.fields["packets"][1] == key.itemsize


# -- FlowTables against real kernel tables (made here, no program: the test writes the slots) --------


class Maps(FlowMaps):
    """The four maps FlowTables reads, as kernel/count.c declares them, with the counts set by hand."""

    def __init__(self, capacity: int = 64) -> None:
        super().__init__(capacity)

    def put(self, role: str, keys: np.ndarray, counts, at: int | None = None) -> None:
        """Set each key's {packets, bytes, tx_packets, tx_bytes} (in slot `at`, when one key is given)."""
        for k, (p, b, tp, tb) in zip(keys, counts):
            super().put(k.reshape(1), p, b, (tp, tb), at=at)

    def drop(self, role: str, keys: np.ndarray) -> None:
        for k in keys:
            super().drop(k.reshape(1))


@pytest.fixture
def maps():
    m = Maps()
    yield m
    m.close()


def v4(i: int) -> np.ndarray:
    return keys4(([198, 18, 0, i], [198, 18, 0, 1], 4000 + i, 53, 17, 0))


def v6(i: int) -> np.ndarray:
    return keys6((FD00_2[:-1] + bytes([i]), FD00_1, 40000 + i, 443, 6, 0))


def by_port(table: np.ndarray) -> dict[int, tuple]:
    """Each row's (d_packets, d_bytes, d_tx_packets, d_tx_bytes, first_ns, last_ns), by source port."""
    names = ("d_packets", "d_bytes", "d_tx_packets", "d_tx_bytes", "first_ns", "last_ns")
    return {int(r["sport"]): tuple(int(r[n]) for n in names) for r in table}


def reader(maps: Maps, idle_ns: int = 10**12) -> flowtable.FlowTables:
    return flowtable.FlowTables(maps.fds, maps.capacity, 1, idle_ns)


@pytest.mark.bpf
def test_each_read_counts_what_each_flow_gained_in_both_tables(maps):
    maps.put("flows4", v4(1), [(10, 1000, 0, 0)])
    maps.put("flows6", v6(2), [(5, 500, 1, 60)])
    tables = reader(maps)
    first, _ = tables.read(100)
    assert by_port(first) == {4001: (10, 1000, 0, 0, 100, 100), 40002: (5, 500, 1, 60, 100, 100)}
    maps.put("flows4", v4(1), [(12, 1300, 0, 0)])  # grew
    maps.put("flows4", v4(3), [(1, 64, 0, 0)])  # new, in the same table
    second, _ = tables.read(200)  # the IPv6 flow did not change
    assert by_port(second) == {
        4001: (2, 300, 0, 0, 100, 200),
        4003: (1, 64, 0, 0, 200, 200),
        40002: (0, 0, 0, 0, 100, 100),
    }
    # growth() takes these as they are when its previous read is the one they count from ...
    assert flowarray.growth(first, second) is second
    # ... and matching the two reads row by row gives the same.
    assert by_port(flowarray.growth(first.copy(), _other_read(second))) == by_port(second)


def _other_read(rows: np.ndarray) -> np.ndarray:
    """The same rows as if counted from some other read: growth() has to match them itself."""
    out = rows.copy()
    out["since"] = 1
    return out


@pytest.mark.bpf
def test_a_flow_that_only_sends_is_not_idle(maps):
    maps.put("flows4", v4(1), [(3, 300, 7, 700)])
    tables = reader(maps, idle_ns=50)
    tables.read(100)
    maps.put("flows4", v4(1), [(3, 300, 9, 900)])  # nothing received, two frames sent
    (row,) = tables.read(200)[0]
    assert (int(row["d_packets"]), int(row["d_tx_packets"]), int(row["d_tx_bytes"]), int(row["last_ns"])) == (
        0, 2, 200, 200,
    )  # fmt: skip
    assert maps.entries("flows4") == 1
    (row,) = tables.read(240)[0]  # unchanged for 40 ns: not idle yet
    assert len(tables.read(260)[0]) == 0 and maps.entries("flows4") == 0  # 60 ns: deleted, not reported


@pytest.mark.bpf
def test_a_count_that_went_backwards_is_a_new_flow(maps):
    maps.put("flows4", v4(1), [(50, 5000, 0, 0)])
    tables = reader(maps)
    first, _ = tables.read(100)
    maps.put("flows4", v4(1), [(4, 400, 0, 0)])  # deleted and created again between the reads
    second, _ = tables.read(200)
    assert by_port(second) == {4001: (4, 400, 0, 0, 200, 200)}
    assert by_port(flowarray.growth(first, _other_read(second))) == by_port(second)


@pytest.mark.bpf
def test_an_evicted_flow_that_comes_back_counts_afresh(maps):
    for i in range(1, 10):
        maps.put("flows4", v4(i), [(i, 100 * i, 0, 0)])
    tables = reader(maps)
    first, _ = tables.read(100)
    maps.put("flows4", v4(9), [(20, 2000, 0, 0)])  # the busiest: never evicted
    maps.set_full(0)
    evicting, state = tables.read(200)  # 64 // EVICT_SHARE = 8 go: all but the one that changed
    assert state.full and state.evicted == 8 and maps.entries("flows4") == 1
    assert len(evicting) == 9  # reported once more, with what they gained
    # They come back with more packets than they had when evicted (in the kernel's order of the last
    # read, as like as not): still new flows.
    for i in range(1, 9):
        maps.put("flows4", v4(i), [(30, 3000, 0, 0)])
    third, _ = tables.read(300)
    assert by_port(third) == {4000 + i: (30, 3000, 0, 0, 300, 300) for i in range(1, 9)} | {
        4009: (0, 0, 0, 0, 100, 200)
    }
    # A reader whose previous read was before the eviction matches it the same way.
    assert by_port(flowarray.growth(evicting, _other_read(third))) == by_port(third)
    assert by_port(flowarray.growth(first, _other_read(third)))[4001] == (30, 3000, 0, 0, 300, 300)


@pytest.mark.bpf
def test_two_readers_of_one_table_count_from_their_own_reads(maps):
    maps.put("flows4", v4(1), [(1, 100, 0, 0)])
    tables = reader(maps)
    a = flowarray.FlowArray(tables.read(100)[0]).since(None)
    maps.put("flows4", v4(1), [(3, 300, 0, 0)])
    b = flowarray.FlowArray(tables.read(200)[0]).since(None)
    maps.put("flows4", v4(1), [(6, 600, 0, 0)])
    a = flowarray.FlowArray(tables.read(300)[0]).since(a)  # counted by the table from b's read, not a's
    maps.put("flows4", v4(1), [(10, 1000, 0, 0)])
    b = flowarray.FlowArray(tables.read(400)[0]).since(b)
    assert (int(a.rows["d_packets"][0]), int(b.rows["d_packets"][0])) == (5, 7)


@pytest.mark.bpf
def test_two_tables_count_apart(maps):
    """Two readers, each with its own pair of kernel tables, never take each other's reads for their own."""
    other = Maps()
    try:
        maps.put("flows4", v4(1), [(2, 200, 0, 0)])
        other.put("flows4", v4(1), [(1, 100, 0, 0)])
        mine, theirs = reader(maps), reader(other)
        prev = mine.read(100)[0]  # each one's first read: the same rows, but not the same read
        theirs.read(100)
        other.put("flows4", v4(1), [(4, 400, 0, 0)])
        maps.put("flows4", v4(1), [(3, 300, 0, 0)])
        cur = theirs.read(200)[0]
        assert cur["d_packets"].tolist() == [3]  # from its own last read
        assert flowarray.growth(prev, cur)["d_packets"].tolist() == [2]  # from the read it was given
        assert mine.read(200)[0]["d_packets"].tolist() == [1]
    finally:
        other.close()


@pytest.mark.bpf
def test_a_flow_in_two_slots_is_one_row_with_both_counts(maps):
    """A flow whose next packet found a slot freed before its own (or two CPUs inserting it at once) has a
    second slot; the kernel adds to the first in probe order. The reader folds the other into it, once,
    frees it, and the flow's counts and growth stay exact."""
    tables = reader(maps)
    maps.put("flows4", v4(1), [(3, 300, 0, 0)], at=5)
    maps.put("flows4", v4(2), [(1, 60, 0, 0)], at=9)
    tables.read(100)
    maps.put("flows4", v4(1), [(2, 200, 1, 50)], at=3)  # a second slot, before the first in probe order
    maps.put("flows4", v4(1), [(4, 400, 0, 0)], at=5)  # and the first one grew too
    (row,) = [r for r in tables.read(200)[0] if r["sport"] == 4001]
    assert [int(row[n]) for n in ("packets", "bytes", "tx_packets", "d_packets", "d_bytes", "first_ns")] == [
        6, 600, 1, 3, 300, 100,
    ]  # fmt: skip
    assert [i for i, _slot in maps.held("flows4")] == [3, 9], "the later slot is freed"
    maps.put("flows4", v4(1), [(5, 500, 1, 50)], at=3)
    (row,) = [r for r in tables.read(300)[0] if r["sport"] == 4001]
    assert [int(row[n]) for n in ("packets", "bytes", "d_packets", "d_bytes", "first_ns")] == [9, 900, 3, 300, 100]


def _rows_by_port(table: np.ndarray) -> dict[int, tuple]:
    """Each row's (packets, tx_packets, d_packets, d_tx_packets, first_ns), by source port."""
    names = ("packets", "tx_packets", "d_packets", "d_tx_packets", "first_ns")
    return {int(r["sport"]): tuple(int(r[n]) for n in names) for r in table}


@pytest.mark.bpf
def test_a_second_slot_behind_the_first_folds_into_it_also_across_the_tables_end(maps):
    tables = reader(maps)
    last = maps.slots - 1
    maps.put("flows4", v4(1), [(3, 300, 0, 0)], at=10)
    maps.put("flows4", v4(2), [(4, 400, 0, 0)], at=last)
    tables.read(100)
    maps.put("flows4", v4(1), [(1, 100, 0, 0)], at=11)  # one slot on: the kernel's second choice
    maps.put("flows4", v4(2), [(2, 200, 1, 10)], at=1)  # two slots on, past the table's end
    assert _rows_by_port(tables.read(200)[0]) == {4001: (4, 0, 1, 0, 100), 4002: (6, 1, 2, 1, 100)}
    assert [i for i, _slot in maps.held("flows4")] == [10, last], "the first slots in probe order stay"


@pytest.mark.bpf
def test_folded_counts_add_up_over_several_folds(maps):
    """Two flows each with a second slot in one read; then one of them, carrying folded counts, gets a
    slot before its own, and what it carries moves with it."""
    tables = reader(maps, idle_ns=10**9)  # reads at 100-500 ns: nothing idle until 10**13
    maps.put("flows4", v4(1), [(5, 500, 0, 0)], at=20)
    maps.put("flows4", v4(2), [(7, 700, 0, 0)], at=40)
    tables.read(100)
    maps.put("flows4", v4(1), [(2, 200, 0, 0)], at=21)
    maps.put("flows4", v4(2), [(3, 300, 2, 20)], at=41)
    assert _rows_by_port(tables.read(200)[0]) == {4001: (7, 0, 2, 0, 100), 4002: (10, 2, 3, 2, 100)}
    maps.put("flows4", v4(1), [(6, 600, 0, 0)], at=20)  # grew by 1
    maps.put("flows4", v4(1), [(1, 100, 0, 0)], at=18)  # and a slot two before its own
    assert _rows_by_port(tables.read(300)[0]) == {4001: (9, 0, 2, 0, 100), 4002: (10, 2, 0, 0, 100)}
    assert [i for i, _slot in maps.held("flows4")] == [18, 40]
    maps.put("flows4", v4(1), [(4, 400, 0, 0)], at=18)
    assert _rows_by_port(tables.read(400)[0])[4001] == (12, 0, 3, 0, 100)
    maps.put("flows4", v4(1), [(2, 200, 0, 0)], at=19)  # a slot after its own, carrying already
    assert _rows_by_port(tables.read(500)[0])[4001] == (14, 0, 2, 0, 100)
    # Idle, the flow goes, and what its slot carried with it: a new flow there counts afresh.
    assert 4001 not in _rows_by_port(tables.read(10**13)[0])
    maps.put("flows4", v4(3), [(1, 100, 0, 0)], at=18)
    assert _rows_by_port(tables.read(10**13 + 100)[0])[4003] == (1, 0, 1, 0, 10**13 + 100)


@pytest.mark.bpf
def test_the_bound_refuses_the_newest_with_the_fewest_packets_both_ways():
    """--flows-max 16, 15 flows, then 3 new: of the three new, the two with the fewest packets received and sent
    are refused (their packets counted as untracked), never an older flow, however quiet; and room is
    made by evicting the least active."""
    small = Maps(capacity=16)
    try:
        tables = reader(small)
        for i in range(1, 15):
            small.put("flows4", v4(i), [(100, 6400, 0, 0)])
        small.put("flows4", v4(16), [(1, 64, 0, 0)])  # old and quiet
        first, state = tables.read(100)
        assert (len(first), state.full, state.untracked_packets) == (15, False, 0)
        for i in range(1, 15):
            small.put("flows4", v4(i), [(200, 12800, 0, 0)])
        small.put("flows4", v4(17), [(5, 320, 0, 0)])
        small.put("flows4", v4(18), [(0, 0, 3, 192)])  # sent only
        small.put("flows4", v4(19), [(1, 64, 1, 64)])
        flows, state = tables.read(200)
        assert sorted(int(p) for p in flows["sport"]) == [*range(4001, 4015), 4016, 4017]
        assert (state.untracked_packets, state.full, state.evicted) == (3 + 2, True, 2)
        assert small.ports("flows4") == {4000 + i for i in range(1, 15)}, "the quiet old flow and 4017 evicted"
    finally:
        small.close()


@pytest.mark.bpf
def test_one_over_the_bound_is_refused_and_evictions_add_up():
    small = Maps(capacity=16)
    try:
        tables = reader(small)
        for i in range(1, 17):
            small.put("flows4", v4(i), [(100 + i, 6400, 0, 0)])
        flows, state = tables.read(100)
        assert (len(flows), state.untracked_packets, state.full, state.evicted) == (16, 0, False, 0), "at the bound"
        small.put("flows4", v4(17), [(7, 640, 0, 0)])
        flows, state = tables.read(200)
        assert (len(flows), state.untracked_packets, state.full, state.evicted) == (16, 7, True, 2)
        small.set_full(0)
        _flows, state = tables.read(300)
        assert (state.full, state.evicted) == (True, 4)
    finally:
        small.close()


@pytest.mark.bpf
def test_a_reader_holds_no_mapping_between_reads():
    """The tables are mapped only while read: between reads the reader holds nothing of them, so their
    kernel memory is not counted in bptraf's RSS and closing their fds frees them."""
    from bpfview import bpf_fds, held, kernel_ids
    from runner import wait_for

    small = Maps(capacity=16)
    ids = held({fd: info for fd, info in bpf_fds().items() if fd in small.fds.values()})["map"]
    tables = reader(small)
    small.put("flows4", v4(1), [(1, 64, 0, 0)])
    assert len(tables.read(100)[0]) == 1
    mapped = Path("/proc/self/maps").read_text()
    assert "bpf-map" not in mapped and "anon_inode:bpf" not in mapped, mapped
    small.close()
    assert wait_for(lambda: not ids & kernel_ids("map")), "a table outlived its fds"


@pytest.mark.bpf
def test_two_new_slots_of_one_flow_fold_and_far_apart_slots_do_not(maps):
    tables = reader(maps)
    maps.put("flows4", v4(1), [(1, 100, 0, 0)], at=7)
    maps.put("flows4", v4(1), [(1, 100, 0, 0)], at=7 + flowtable.PROBES - 1)
    maps.put("flows4", v4(2), [(2, 200, 0, 0)], at=20)
    maps.put("flows4", v4(2), [(2, 200, 0, 0)], at=20 + flowtable.PROBES)  # beyond a probe: not the kernel's
    got = sorted((int(r["sport"]), int(r["packets"])) for r in tables.read(100)[0])
    assert got == [(4001, 2), (4002, 2), (4002, 2)]
    assert [i for i, _slot in maps.held("flows4")] == [7, 20, 20 + flowtable.PROBES]


@pytest.mark.bpf
def test_a_slot_still_being_filled_is_read_once_published(maps):
    tables = reader(maps)
    at = FlowMaps.put(maps, keys4(([198, 18, 0, 1], [198, 18, 0, 2], 7, 8, 17, 0)), 4, 400, state=flowtable.CLAIMED)
    assert len(tables.read(100)[0]) == 0
    FlowMaps.put(maps, keys4(([198, 18, 0, 1], [198, 18, 0, 2], 7, 8, 17, 0)), 5, 500, at=at)
    (row,) = tables.read(200)[0]
    assert (int(row["sport"]), int(row["d_packets"]), int(row["first_ns"])) == (7, 5, 200)


@pytest.mark.bpf
def test_more_flows_than_the_bound_are_refused_as_untracked(maps):
    """The table has twice --flows-max slots; flows beyond the bound are refused like a full table's
    inserts (the newest, fewest packets first), their packets counted as untracked, and room is made."""
    small = Maps(capacity=16)
    try:
        tables = reader(small)
        for i in range(1, 17):
            small.put("flows4", v4(i), [(100 + i, 6400, 0, 0)])
        assert len(tables.read(100)[0]) == 16
        for i in range(17, 20):
            small.put("flows4", v4(i), [(i - 16, 64, 0, 0)])  # 1, 2 and 3 packets
        small.put("flows4", v4(16), [(500, 6400, 0, 0)])
        flows, state = tables.read(200)
        assert sorted(int(p) for p in flows["sport"]) == list(range(4001, 4017))
        assert (state.untracked_packets, state.full, state.evicted) == (1 + 2 + 3, True, 16 // flowtable.EVICT_SHARE)
        assert small.entries("flows4") == 16 - 16 // flowtable.EVICT_SHARE
    finally:
        small.close()


@pytest.mark.bpf
def test_clear_empties_both_tables_and_forgets_them(maps):
    maps.put("flows4", v4(1), [(5, 500, 0, 0)])
    maps.put("flows6", v6(1), [(5, 500, 0, 0)])
    tables = reader(maps)
    tables.read(100)
    tables.clear()
    assert maps.entries("flows4") == maps.entries("flows6") == 0
    maps.put("flows4", v4(1), [(5, 500, 0, 0)])  # the same count again: a new flow all the same
    assert by_port(tables.read(200)[0]) == {4001: (5, 500, 0, 0, 200, 200)}


@pytest.mark.parametrize("seed", range(20))
def test_first_rows_are_a_full_sort_cut_short(seed):
    """The top n without sorting every row: the same rows in the same order as sorting all of them, with
    ties on every column kept in row order."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 300))
    columns = [rng.integers(0, int(rng.integers(1, 6)), size).astype(float) for _ in range(4)]
    columns[0] = -columns[0]  # negated as top() has it: -0.0 ties with 0.0
    for n in (0, 1, 3, 10, size, size + 5):
        want = np.lexsort(columns[::-1])[:n]
        assert flowarray.first_rows(columns, n).tolist() == want.tolist(), (size, n)


@pytest.mark.bpf
@pytest.mark.parametrize("seed", range(3))
def test_the_tables_growth_is_what_matching_the_reads_gives(maps, seed):
    """Flows that grow, stay, go idle, are deleted, come back and count backwards, over reads: what the
    table counts from its own last read is what growth() finds by matching the two reads."""
    rng = np.random.default_rng(seed)
    counts: dict[int, list[int]] = {}
    tables = reader(maps, idle_ns=250)
    prev = None
    for step in range(12):
        for i in rng.choice(np.arange(1, 40), 12, replace=False).tolist():
            c = counts.setdefault(i, [0, 0])
            action = rng.integers(0, 6)
            if action == 0:
                maps.drop("flows4", v4(i))
                counts.pop(i)
                continue
            if action in (1, 2):  # created again: one of its counts went backwards
                c[action - 1] = int(rng.integers(0, 2))
            else:
                c[0] += int(rng.integers(0, 4))
                c[1] += int(rng.integers(0, 2))  # sent frames alone keep a flow alive too
            maps.put("flows4", v4(i), [(c[0], 64 * c[0], c[1], 64 * c[1])])
        cur, _ = tables.read(100 * (step + 1))
        if prev is not None:
            assert by_port(flowarray.growth(prev, _other_read(cur))) == by_port(cur)
        prev = cur
