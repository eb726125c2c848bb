"""The flow-table reader (bptraf.flowtable.FlowTables) against real kernel maps of the kernel's
shapes (two arrays of flow slots, the full flags, the per-CPU untracked count), created by the test and
filled by it, so every figure is known: decoding, first/last-seen stamps, idle flows deleted from
the kernel, a full table's least active flows evicted, the untracked count, clear()."""

from __future__ import annotations

import ipaddress

import pytest
from flowmaps import FlowMaps, key

from bptraf.flowtable import EVICT_SHARE, FlowTables

pytestmark = pytest.mark.bpf

CAPACITY = 2 * EVICT_SHARE  # a full table loses CAPACITY // EVICT_SHARE = 2 flows per read
IDLE = 10_000_000_000
S = 1_000_000_000


class Kernel(FlowMaps):
    """The four maps, as kernel/count.c declares them, and the test's hands on them."""

    def __init__(self) -> None:
        super().__init__(CAPACITY)
        self.maps = self.fds

    def put(self, src: str, sport: int, dst: str, dport: int, packets: int, nbytes: int, tx=(0, 0)) -> None:
        super().put(key(src, sport, dst, dport), packets, nbytes, tx)


@pytest.fixture
def kernel():
    k = Kernel()
    try:
        yield k
    finally:
        k.close()


def tables(k: Kernel) -> FlowTables:
    return FlowTables(k.maps, CAPACITY, k.ncpus, IDLE)


def by_sport(flows) -> dict[int, tuple]:
    return {int(f["sport"]): (int(f["packets"]), int(f["bytes"]), int(f["tx_packets"]), int(f["tx_bytes"]),
                              int(f["first_ns"]), int(f["last_ns"])) for f in flows}  # fmt: skip


def test_both_tables_are_read_and_decoded(kernel):
    kernel.put("198.18.0.2", 4000, "198.18.0.1", 53, 10, 640, tx=(3, 300))
    kernel.put("2001:db8::2", 6000, "2001:db8::1", 443, 7, 7_000)
    flows, state = tables(kernel).read(5 * S)
    assert len(flows) == 2
    assert by_sport(flows) == {4000: (10, 640, 3, 300, 5 * S, 5 * S), 6000: (7, 7_000, 0, 0, 5 * S, 5 * S)}
    v4 = flows[flows["sport"] == 4000][0]
    assert (ipaddress.ip_address(v4["src"].tobytes()).ipv4_mapped, int(v4["dport"]), int(v4["proto"])) == (
        ipaddress.ip_address("198.18.0.2"),
        53,
        17,
    )
    assert ipaddress.ip_address(flows[flows["sport"] == 6000][0]["dst"].tobytes()) == ipaddress.ip_address(
        "2001:db8::1"
    )
    assert (state.evicted, state.untracked_packets, state.full) == (0, 0, False)


def test_last_seen_moves_only_when_a_count_changes(kernel):
    t = tables(kernel)
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 10, 640)
    kernel.put("198.18.0.2", 2, "198.18.0.1", 53, 10, 640)
    kernel.put("198.18.0.2", 3, "198.18.0.1", 53, 10, 640)
    t.read(1 * S)
    kernel.put("198.18.0.2", 2, "198.18.0.1", 53, 11, 704)  # received more
    kernel.put("198.18.0.2", 3, "198.18.0.1", 53, 10, 640, tx=(1, 64))  # sent more
    flows, _ = t.read(2 * S)
    got = by_sport(flows)
    assert {p: v[4:] for p, v in got.items()} == {1: (1 * S, 1 * S), 2: (1 * S, 2 * S), 3: (1 * S, 2 * S)}


def test_idle_flows_are_deleted_from_the_kernel_and_not_reported(kernel):
    t = tables(kernel)
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 10, 640)
    kernel.put("198.18.0.2", 2, "198.18.0.1", 53, 10, 640)
    kernel.put("2001:db8::2", 3, "2001:db8::1", 53, 5, 500)
    t.read(1 * S)
    kernel.put("198.18.0.2", 2, "198.18.0.1", 53, 12, 768)
    t.read(5 * S)
    # Idle for exactly IDLE: kept.
    flows, _ = t.read(1 * S + IDLE)
    assert set(by_sport(flows)) == {1, 2, 3}
    flows, _ = t.read(1 * S + IDLE + 1)
    assert set(by_sport(flows)) == {2}
    assert kernel.ports("flows4") == {2} and kernel.ports("flows6") == set()
    # A flow deleted and then seen again is new: stamped from now, with only its new count.
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 1, 64)
    flows, _ = t.read(20 * S)
    assert by_sport(flows)[1] == (1, 64, 0, 0, 20 * S, 20 * S)


def test_a_full_table_loses_its_least_active_flows_after_reporting_them(kernel):
    t = tables(kernel)
    for port in range(1, CAPACITY + 1):
        kernel.put("198.18.0.2", port, "198.18.0.1", 53, 100 + port, 64_000 - 100 * port)
    t.read(1 * S)
    # Ports 1-3 stay quiet; the rest grow. Of the quiet ones the fewest packets (not bytes) go first: 1 and 2.
    for port in range(4, CAPACITY + 1):
        kernel.put("198.18.0.2", port, "198.18.0.1", 53, 1000 + port, 64_000)
    kernel.set_full(0)
    kernel.put("2001:db8::2", 7, "2001:db8::1", 53, 5, 500)
    flows, state = t.read(2 * S)
    assert len(flows) == CAPACITY + 1, "evicted flows are still reported, this once"
    assert (state.evicted, state.full) == (CAPACITY // EVICT_SHARE, True)
    assert kernel.ports("flows4") == set(range(3, CAPACITY + 1))
    assert kernel.ports("flows6") == {7}, "only the full table loses flows"
    assert kernel.full(0) == 0, "the full flag is cleared once acted on"
    flows, state = t.read(3 * S)
    assert (state.evicted, state.full) == (CAPACITY // EVICT_SHARE, False), "evictions are cumulative"
    assert len(flows) == CAPACITY - 2 + 1


def test_idle_flows_count_toward_what_a_full_table_must_lose(kernel):
    t = tables(kernel)
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 100, 6_400)
    for port in range(2, 6):
        kernel.put("198.18.0.2", port, "198.18.0.1", 53, port, 64)
    t.read(1 * S)
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 200, 12_800)
    t.read(2 * S)
    for port in range(2, 6):
        kernel.put("198.18.0.2", port, "198.18.0.1", 53, port + 1, 128)
    t.read(3 * S)
    kernel.set_full(0)
    flows, state = t.read(2 * S + IDLE + 1)
    # Port 1 went idle (deleted, not evicted): one more to lose, the least active of the rest.
    assert set(by_sport(flows)) == {2, 3, 4, 5}
    assert state.evicted == CAPACITY // EVICT_SHARE - 1
    assert kernel.ports("flows4") == {3, 4, 5}


def test_untracked_packets_are_summed_over_cpus(kernel):
    kernel.untracked([5, 7][: kernel.ncpus] + [0] * (kernel.ncpus - 2))
    _flows, state = tables(kernel).read(S)
    assert state.untracked_packets == 5 + (7 if kernel.ncpus > 1 else 0)


def test_clear_empties_both_tables_and_their_full_flags(kernel):
    t = tables(kernel)
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 10, 640)
    kernel.put("2001:db8::2", 3, "2001:db8::1", 53, 5, 500)
    kernel.set_full(0)
    kernel.set_full(1)
    t.clear()
    assert kernel.ports("flows4") == kernel.ports("flows6") == set()
    assert (kernel.full(0), kernel.full(1)) == (0, 0)
    kernel.put("198.18.0.2", 1, "198.18.0.1", 53, 3, 192)
    flows, _ = t.read(9 * S)
    assert by_sport(flows) == {1: (3, 192, 0, 0, 9 * S, 9 * S)}, "nothing remembered from before the clear"
