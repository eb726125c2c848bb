"""The kernel-table path of flows, without a kernel: tables decoded as the reader does it
(bptraf.flowtable.decode), handed to Sampler as a FlowArray the way BpfSource.read_flows does, with
the table state (evictions, untracked packets, full) a BpfSource carries."""

from __future__ import annotations

import ipaddress
import secrets

import numpy as np
import pytest
from fakes import FakeSource, attachment

from bptraf.flowarray import FlowArray
from bptraf.flows import TableState, from_table, group, top
from bptraf.flowtable import KEY4, KEY6, VALUE, decode
from bptraf.sampler import Sampler
from bptraf.source import Feature


def table(flows4: list[tuple], flows6: list[tuple] = ()) -> np.ndarray:
    """Decoded rows from (src, sport, dst, dport, proto, slot, packets, bytes) tuples, one table each."""

    def side(flows, key_dtype, width):
        keys, values = np.zeros(len(flows), key_dtype), np.zeros(len(flows), VALUE)
        for i, (src, sport, dst, dport, proto, slot, packets, nbytes) in enumerate(flows):
            keys[i]["src"] = list(ipaddress.ip_address(src).packed[-width:])
            keys[i]["dst"] = list(ipaddress.ip_address(dst).packed[-width:])
            keys[i]["sport"], keys[i]["dport"], keys[i]["proto"], keys[i]["slot"] = sport, dport, proto, slot
            values[i]["packets"], values[i]["bytes"] = packets, nbytes
        return keys, values

    k4, v4 = side(flows4, KEY4, 4)
    k6, v6 = side(flows6, KEY6, 16)
    rows = decode(k4, v4, k6, v6)
    # The reader's key hash, here simply distinct per key: growth() matches rows by it, then by the key.
    rows["h"] = [hash((r["src"].tobytes(), r["dst"].tobytes(), int(r["sport"]), int(r["dport"]))) & (2**63 - 1)
                 for r in rows]  # fmt: skip
    return rows


class RowSource(FakeSource):
    """A FakeSource whose flows come as the kernel reader's rows, with its table state."""

    def __init__(self, attachments, script, reads, states):
        super().__init__(attachments, script)
        self.rows = list(reads)
        self.states = list(states)
        self.flow_state = TableState()

    def read_flows(self):
        if Feature.FLOWS not in self.features:
            return []
        i = min(self.flow_reads, len(self.rows) - 1)
        self.flow_reads += 1
        self.flow_state = self.states[i]
        return FlowArray(self.rows[i])


A, B = "198.18.0.1", "198.18.0.2"
V6 = "2001:db8::1"


def two_reads():
    """Two interfaces, reads 1.25 s apart; a flow on each, one new in the second read, one re-created."""
    first = table([(A, 4000, B, 53, 17, 0, 100, 6_400), (B, 5000, A, 80, 6, 1, 50, 5_000),
                   (A, 4001, B, 53, 17, 0, 900, 90_000)])  # fmt: skip
    second = table(
        [(A, 4000, B, 53, 17, 0, 350, 22_400), (B, 5000, A, 80, 6, 1, 60, 6_000), (A, 4001, B, 53, 17, 0, 5, 500)],
        [(V6, 443, V6, 6000, 6, 1, 20, 30_000)],
    )
    totals = [{"all": (1000, 100_000)}, {"all": (100, 10_000)}]
    more = [{"all": (2000, 200_000)}, {"all": (200, 20_000)}]
    src = RowSource(
        (attachment("eth0"), attachment("eth1")),
        [(1_000_000_000, totals), (2_250_000_000, more)],
        [first, second],
        [TableState(3, 10, False), TableState(5, 25, True)],
    )
    src.set_features(Feature.FLOWS)
    return src


def by_port(rates):
    return {(r.flow.proto, r.flow.sport, r.flow.dport): (r.packets, r.bytes, r.pps, r.bps) for r in rates}


def test_kernel_rows_give_each_interface_its_own_flows_with_growth_over_the_measured_period():
    src = two_reads()
    sampler = Sampler(src, wall=lambda: 1234.5)
    first = sampler.sample()
    second = sampler.sample()
    assert first.time == second.time == 1234.5
    assert second.features == Feature.FLOWS
    assert len(second.flows) == 2
    # Interface 0: 250 more packets over 1.25 s; the flow whose count went backwards was deleted and
    # created again between the reads: all of its count is new.
    assert by_port(second.flows[0]) == {
        (17, 4000, 53): (250, 16_000, 200.0, 102_400.0),
        (17, 4001, 53): (5, 500, 4.0, 3_200.0),
    }
    # Interface 1: 10 more packets, and an IPv6 flow new in this read counts from zero.
    assert by_port(second.flows[1]) == {
        (6, 5000, 80): (10, 1_000, 8.0, 6_400.0),
        (6, 443, 6000): (20, 30_000, 16.0, 192_000.0),
    }
    # The first read: every flow new, over the first second since attach.
    assert by_port(first.flows[1]) == {(6, 5000, 80): (50, 5_000, 50.0, 40_000.0)}


def test_table_state_is_given_per_interval():
    src = two_reads()
    sampler = Sampler(src)
    first, second = sampler.sample(), sampler.sample()
    assert (first.flows_evicted, first.flows_untracked, first.flows_full) == (3, 10, False)
    assert (second.flows_evicted, second.flows_untracked, second.flows_full) == (2, 15, True)


def test_flows_switched_off_and_on_again_count_from_zero():
    src = two_reads()
    src.rows = [src.rows[0], src.rows[0], src.rows[1]]
    src.states = [TableState(3, 10, False)] * 3
    sampler = Sampler(src)
    sampler.sample()
    src.set_features(Feature.NONE)
    off = sampler.sample()
    assert off.flows is None and (off.flows_evicted, off.flows_untracked, off.flows_full) == (0, 0, False)
    src.set_features(Feature.FLOWS)
    src.flow_reads = 2
    back = sampler.sample()
    # No earlier read is remembered: every flow counts its whole total again.
    assert by_port(back.flows[0])[(17, 4000, 53)][:2] == (350, 22_400)
    assert back.flows_evicted == 0, "the table state is remembered across the gap: evictions are not recounted"


def rates_of(rows):
    return FlowArray(rows).since(None).rates(0, 2.0)


# Orders that differ by bps, pps and total: a wrong sort key shows.
ROWS = [
    (A, 1, B, 10, 17, 0, 100, 1_000),  # most packets
    (A, 2, B, 20, 17, 0, 10, 50_000),  # most bytes
    (A, 3, B, 30, 6, 0, 40, 20_000),
]


@pytest.mark.parametrize(("by", "order"), [("bps", [20, 30, 10]), ("pps", [10, 30, 20]), ("total", [20, 30, 10])])
def test_kernel_rows_top_follows_the_sort_key(by, order):
    r = rates_of(table(ROWS))
    got = top(r, 3, by)
    assert [x.flow.dport for x in got] == order
    assert [x.flow.dport for x in top(r, 1, by)] == order[:1]


def test_kernel_rows_top_by_total_ranks_by_bytes_since_first_seen_not_in_the_interval():
    prev = FlowArray(table([(A, 1, B, 10, 17, 0, 10, 90_000), (A, 2, B, 20, 17, 0, 1, 100)]))
    cur = FlowArray(table([(A, 1, B, 10, 17, 0, 11, 90_100), (A, 2, B, 20, 17, 0, 100, 50_000)]))
    r = cur.since(prev).rates(0, 1.0)
    assert [x.flow.dport for x in top(r, 2, "total")] == [10, 20]
    assert [x.flow.dport for x in top(r, 2, "bps")] == [20, 10]
    assert [(x.packets, x.bytes) for x in top(r, 2, "bps")] == [(99, 49_900), (1, 100)]


def test_kernel_rows_ties_are_broken_the_same_way_as_records():
    rows = [(A, 5, B, 30, 17, 0, 10, 1_000), (A, 5, B, 20, 17, 0, 10, 1_000), (A, 4, B, 20, 17, 0, 10, 1_000)]
    got = [(x.flow.sport, x.flow.dport) for x in top(rates_of(table(rows)), 3, "bps")]
    records = [(x.flow.sport, x.flow.dport) for x in top(list(rates_of(table(rows))), 3, "bps")]
    assert got == [(4, 20), (5, 20), (5, 30)] == records


@pytest.mark.parametrize(
    ("by", "expect"),
    [
        ("src", {A: (3, 150, 71_000, 75.0, 284_000.0, 71_000)}),
        ("dst", {B: (3, 150, 71_000, 75.0, 284_000.0, 71_000)}),
        (
            "port",
            {
                "udp/10": (1, 100, 1_000, 50.0, 4_000.0, 1_000),
                "udp/20": (1, 10, 50_000, 5.0, 200_000.0, 50_000),
                "tcp/30": (1, 40, 20_000, 20.0, 80_000.0, 20_000),
            },
        ),  # fmt: skip
    ],
)
def test_kernel_rows_group_sums_each_group(by, expect):
    got = {g.name: (g.flows, g.packets, g.bytes, g.pps, g.bps, g.total_bytes) for g in group(rates_of(table(ROWS)), by)}
    assert got == expect
    records = {
        g.name: (g.flows, g.packets, g.bytes, g.pps, g.bps, g.total_bytes)
        for g in group(list(rates_of(table(ROWS))), by)
    }
    assert records == expect


def test_kernel_rows_group_of_nothing_is_empty_and_slices_are_flows():
    r = rates_of(table(ROWS))
    assert group(FlowArray(table([])).since(None).rates(0, 1.0), "src") == []
    assert [x.flow.dport for x in r[1:3]] == [20, 30]
    arr = FlowArray(table(ROWS))
    assert len(arr[:2]) == 2 and arr[2].dport == 30 and arr[2].src == A and arr[2].dst == B
    assert (arr[0].packets, arr[0].bytes, arr[0].proto, arr[0].slot) == (100, 1_000, 17, 0)


def test_records_carry_first_and_last_seen_and_direction():
    rows = table([(A, 1, B, 10, 17, 0, 100, 1_000)])
    rows["first_ns"], rows["last_ns"], rows["dir"] = 111, 222, 1
    f = FlowArray(rows)[0]
    assert (f.first_ns, f.last_ns, f.dir) == (111, 222, 1)
    r = rates_of(rows)[0]
    assert (r.flow.first_ns, r.flow.last_ns, r.flow.dir) == (111, 222, 1)
    (rec,) = from_table(rows)
    assert (rec.first_ns, rec.last_ns, rec.dir, rec.src, rec.dst) == (111, 222, 1, A, B)


def test_addresses_never_seen_before_are_written_out():
    # Random addresses, new to this process: the text is made here, not taken from the cache (which
    # a process that ran other tests first, as mutmut's workers do, has filled).
    a4 = ipaddress.ip_address(bytes([198, 18, *secrets.token_bytes(2)]))
    a6 = ipaddress.ip_address(b"\x20\x01\x0d\xb8" + secrets.token_bytes(12))
    rows = table([(str(a4), 1, "198.18.99.8", 10, 17, 0, 1, 64)], [(str(a6), 1, "2001:db8:99::8", 10, 17, 0, 1, 64)])
    assert [(f.src, f.dst) for f in from_table(rows)] == [(str(a4), "198.18.99.8"), (str(a6), "2001:db8:99::8")]


def with_hashes(rows, hashes):
    rows["h"] = hashes
    return rows


def test_a_flow_sharing_a_hash_with_another_of_the_last_read_counts_from_zero():
    prev = with_hashes(table([(A, 1, B, 10, 17, 0, 10, 1_000)]), [50])
    cur = with_hashes(table([(A, 2, B, 10, 17, 0, 30, 3_000)]), [50])  # another key, same hash
    (r,) = FlowArray(cur).since(FlowArray(prev)).rates(0, 1.0)
    assert (r.packets, r.bytes) == (30, 3_000)


def test_a_flow_hashed_above_every_earlier_one_is_new_and_the_rest_grow():
    prev = with_hashes(table([(A, 1, B, 10, 17, 0, 10, 1_000), (A, 2, B, 10, 17, 0, 10, 1_000)]), [70, 20])
    cur = with_hashes(
        table([(A, 1, B, 10, 17, 0, 15, 1_500), (A, 2, B, 10, 17, 0, 12, 1_200), (A, 3, B, 10, 17, 0, 4, 400)]),
        [70, 20, 90],
    )
    got = {r.flow.sport: (r.packets, r.bytes) for r in FlowArray(cur).since(FlowArray(prev)).rates(0, 1.0)}
    assert got == {1: (5, 500), 2: (2, 200), 3: (4, 400)}


def test_a_flow_that_only_sent_keeps_its_received_count_and_grows_on_the_sent_side():
    prev = table([(A, 1, B, 10, 17, 0, 10, 1_000)])
    cur = table([(A, 1, B, 10, 17, 0, 10, 1_000)])
    prev["tx_packets"], prev["tx_bytes"] = 5, 500
    cur["tx_packets"], cur["tx_bytes"] = 8, 800
    grown = FlowArray(cur).since(FlowArray(prev)).rows
    assert [int(grown[0][n]) for n in ("d_packets", "d_bytes", "d_tx_packets", "d_tx_bytes")] == [0, 0, 3, 300]


def test_a_port_group_of_an_unnamed_protocol_is_named_by_its_number():
    rows = table([(A, 1, B, 0, 47, 0, 10, 1_000), (A, 2, B, 0, 47, 0, 5, 500)])
    assert [(g.name, g.flows, g.packets) for g in group(rates_of(rows), "port")] == [("47/0", 2, 15)]


def test_kernel_rows_ties_on_the_first_key_go_to_the_larger_second_key():
    # Equal bps in the interval; the flow with more bytes since first seen goes first, by default too.
    prev = FlowArray(table([(A, 1, B, 10, 17, 0, 1, 100), (A, 2, B, 20, 17, 0, 1, 50_000)]))
    cur = FlowArray(table([(A, 1, B, 10, 17, 0, 2, 1_100), (A, 2, B, 20, 17, 0, 2, 51_000)]))
    r = cur.since(prev).rates(0, 1.0)
    assert [x.flow.dport for x in r.top(2)] == [20, 10]
    assert [x.flow.dport for x in top(list(r), 2, "bps")] == [20, 10]
