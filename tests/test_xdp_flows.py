"""Real XDP: per-flow packets and bytes, the frame-size histogram, ageing and the flow-table bound."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from frames import ICMP, ICMPV6, IPV4_MF, eth, ext, frag, ipv4, ipv6, padded, sctp, tcp, udp
from netlab import VethLab, sh
from runner import Bptraf, records, totals, wait_for
from test_xdp import count_until

pytestmark = pytest.mark.bpf


def flow_totals(out: str, iface: str) -> dict[tuple, tuple[int, int]]:
    """Each flow's packets and bytes, summed over every interval's deltas."""
    got: dict[tuple, list[int]] = {}
    for r in records(out, iface):
        for f in r.get("flows", []):
            t = got.setdefault((f["proto"], f["src"], f["sport"], f["dst"], f["dport"]), [0, 0])
            t[0] += f["packets"]
            t[1] += f["bytes"]
    return {k: (p, b) for k, (p, b) in got.items()}


def size_totals(out: str, iface: str) -> dict[str, int]:
    got: dict[str, int] = {}
    for r in records(out, iface):
        for label, n in r["sizes"].items():
            got[label] = got.get(label, 0) + n
    return got


V4, V6 = ("198.18.0.2", "198.18.0.1"), ("fd00::2", "fd00::1")
# (flow key as bptraf reports it, frame, times sent)
FLOWS = [
    (("udp", *V4[:1], 4001, V4[1], 53), eth(0x0800, ipv4(17, udp(4001, 53))), 3),
    (("udp", *V4[:1], 4002, V4[1], 53), eth(0x0800, ipv4(17, udp(4002, 53, 400))), 5),
    (("tcp", *V4[:1], 33000, V4[1], 443), eth(0x0800, ipv4(6, tcp(33000, 443, 1000))), 7),
    (("icmp", *V4[:1], 0, V4[1], 0), eth(0x0800, ipv4(1, ICMP)), 2),
    (("udp", *V6[:1], 5353, V6[1], 5353), eth(0x86DD, ipv6(17, udp(5353, 5353, 100))), 4),
    (("tcp", *V6[:1], 40000, V6[1], 22), eth(0x86DD, ipv6(6, tcp(40000, 22))), 6),
    (("icmpv6", *V6[:1], 0, V6[1], 0), eth(0x86DD, ipv6(58, ICMPV6)), 1),
    # A non-first IPv4 fragment: its protocol is known, its ports are not.
    (("udp", *V4[:1], 0, V4[1], 0), eth(0x0800, ipv4(17, bytes(100), frag_offset=185)), 2),
]


def run_flows(lab, frames: list[bytes], *args: str) -> tuple[str, str]:
    """Send `frames` to a `--json --flows --top 100` run (-i 0.2 unless `args` say otherwise); its JSON
    lines and stderr once all were counted."""
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--top", "100", *args) as bp:
        bp.wait_ready()
        lab.send(frames)
        count_until(bp, lab.host, len(frames))
        code, out, err = bp.stop()
    assert code == 0, err
    return out, err


def send_flows(lab, flows) -> str:
    """Send every (key, frame, count) of `flows` to a --flows run; its JSON lines once all were counted."""
    return run_flows(lab, [f for _key, f, n in flows for _ in range(n)])[0]


def test_each_flow_counted_exactly(lab):
    out = send_flows(lab, FLOWS)
    assert flow_totals(out, lab.host) == {key: (n, n * len(f)) for key, f, n in FLOWS}
    assert totals(out, lab.host)["all"][0] == sum(n for _key, _f, n in FLOWS)


def _from(frame: bytes, i: int) -> bytes:
    """The frame from another source address: 198.18.1.i, or fd00::1:i."""
    if frame[12:14] == b"\x08\x00":
        return frame[:26] + bytes([198, 18, 1, i]) + frame[30:]
    return frame[:22] + bytes.fromhex("fd00" + "00" * 11 + "01") + bytes([0, i]) + frame[38:]


def test_a_table_at_its_bound_holds_each_flow_exactly_and_refuses_one_more(lab):
    """--flows-max 16 (32 slots a table): 16 IPv4 and 16 IPv6 flows that differ only in their source
    address, so only the hash of the addresses spreads them over the slots, are each counted exactly;
    a 17th IPv4 flow is refused, its packet counted as untracked, and the full table said once."""
    v4, v6 = eth(0x0800, ipv4(17, udp(7000, 7001))), eth(0x86DD, ipv6(17, udp(7000, 7001)))
    frames = [_from(f, i) for i in range(16) for f in (v4, v6) for _ in range(1 + i % 3)]
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--flows-max", "16", "--top", "100") as bp:
        bp.wait_ready()
        lab.send(frames)
        count_until(bp, lab.host, len(frames))
        lab.send([_from(v4, 16)])
        count_until(bp, lab.host, 1)
        code, out, err = bp.stop()
    assert code == 0, err
    want = {("udp", f"198.18.1.{i}", 7000, "198.18.0.1", 7001): (1 + i % 3, (1 + i % 3) * len(v4)) for i in range(16)}
    want |= {("udp", f"fd00::1:{i:x}", 7000, "fd00::1", 7001): (1 + i % 3, (1 + i % 3) * len(v6)) for i in range(16)}
    assert flow_totals(out, lab.host) == want
    assert max(r["flows_untracked_packets"] for r in records(out, lab.host)) == 1
    assert err.count("the flow table is full") == 1, err


def test_flows_beyond_the_tables_room_are_counted_as_untracked(lab):
    """64 new IPv4 flows at once into 32 slots (--flows-max 16): every packet is either in a flow's
    count or among the untracked, the kernel's (no slot within reach) and the reader's (over the bound)."""
    frames = [_from(eth(0x0800, ipv4(17, udp(7000 + i, 7001))), i % 200) for i in range(64)]
    out, _err = run_flows(lab, frames, "-i", "1", "--flows-max", "16")
    counted = sum(p for p, _b in flow_totals(out, lab.host).values())
    untracked = max(r["flows_untracked_packets"] for r in records(out, lab.host))
    assert counted <= 32 and counted + untracked == len(frames)


def test_flows_that_share_a_home_slot_fill_its_reach_and_the_table_is_said_full(lab):
    """Ten flows whose keys hash to one slot (found with the kernel's hash, tests/flowmaps.home) in a
    32-slot table: eight fit within the probe's reach, two are untracked, and though the table holds
    fewer than --flows-max flows, the kernel's full flag makes bptraf evict and say so, once."""
    from flowmaps import home, key

    from bptraf.build import flow_bits

    bits = flow_bits(16)
    homes: dict[int, list[int]] = {}
    for port in range(20000, 40000):
        homes.setdefault(home(key(V4[0], port, V4[1], 7001), bits), []).append(port)
        ports = next((p for p in homes.values() if len(p) == 10), None)
        if ports:
            break
    assert ports, "no ten ports share a home slot"
    out, err = run_flows(lab, [eth(0x0800, ipv4(17, udp(p, 7001))) for p in ports], "-i", "1", "--flows-max", "16")
    flows = flow_totals(out, lab.host)
    assert len(flows) == 8 and set(flows) <= {("udp", V4[0], p, V4[1], 7001) for p in ports}
    assert max(r["flows_untracked_packets"] for r in records(out, lab.host)) == 2
    assert sum(r["flows_evicted"] for r in records(out, lab.host)) > 0
    assert err.count("the flow table is full") == 1, err


# Where a flow's ports come from: only a first (or unfragmented) L4 header has them. The non-first
# fragments carry a UDP/TCP header's worth of non-zero bytes where ports would be, so a parser that
# reads them anyway shows those bytes as ports.
PORT_FLOWS = [
    (("udp", *V4[:1], 0, V4[1], 0), eth(0x0800, ipv4(17, udp(4444, 5555, 60), frag_offset=185)), 2),
    (("tcp", *V4[:1], 0, V4[1], 0), eth(0x0800, ipv4(6, tcp(4446, 5557, 60), frag_offset=1)), 1),
    (("udp", *V4[:1], 4445, V4[1], 5556), eth(0x0800, ipv4(17, udp(4445, 5556, 60), frag_offset=IPV4_MF)), 3),
    (("udp", *V6[:1], 0, V6[1], 0), eth(0x86DD, ipv6(44, frag(17, offset=100) + udp(6666, 7777, 60))), 2),
    (("tcp", *V6[:1], 0, V6[1], 0), eth(0x86DD, ipv6(44, frag(6, offset=1, more=True) + tcp(6668, 7779))), 1),
    (("udp", *V6[:1], 6667, V6[1], 7778), eth(0x86DD, ipv6(44, frag(17, more=True) + udp(6667, 7778, 60))), 3),
    (("sctp", *V4[:1], 9000, V4[1], 9001), eth(0x0800, ipv4(132, sctp(9000, 9001))), 2),
    (("sctp", *V6[:1], 9002, V6[1], 9003), eth(0x86DD, ipv6(132, sctp(9002, 9003))), 1),
    # Six extension headers are walked to the L4 header, and its ports are read.
    (("tcp", *V6[:1], 6000, V6[1], 6001), eth(0x86DD, ipv6(60, ext(60) * 5 + ext(6) + tcp(6000, 6001))), 2),
]


def test_ports_only_from_a_first_fragment(lab):
    out = send_flows(lab, PORT_FLOWS)
    assert flow_totals(out, lab.host) == {key: (n, n * len(f)) for key, f, n in PORT_FLOWS}


def test_flows_are_reported_on_the_interface_that_saw_them(lab):
    other = VethLab.create()
    try:
        a, b = eth(0x0800, ipv4(17, udp(8001, 53))), eth(0x0800, ipv4(17, udp(8002, 53)))
        with Bptraf(lab.host, other.host, "--json", "-i", "0.2", "--flows") as bp:
            bp.wait_ready()
            lab.send([a] * 2)
            other.send([b] * 3)
            count_until(bp, lab.host, 2)
            count_until(bp, other.host, 3)
            code, out, err = bp.stop()
        assert code == 0, err
        assert flow_totals(out, lab.host) == {("udp", *V4[:1], 8001, V4[1], 53): (2, 2 * len(a))}
        assert flow_totals(out, other.host) == {("udp", *V4[:1], 8002, V4[1], 53): (3, 3 * len(b))}
    finally:
        other.destroy()


def test_size_histogram_buckets_exactly():
    lab = VethLab.create()
    try:
        # Jumbo frames need a bigger MTU on both ends (native XDP on veth allows up to ~3.5 KB).
        sh("ip", "link", "set", lab.host, "mtu", "3000")
        lab.in_ns("ip", "link", "set", lab.peer, "mtu", "3000")
        base = eth(0x0800, ipv4(17, udp(1, 2)))
        sizes = {60: 2, 64: 1, 65: 3, 127: 1, 128: 2, 300: 1, 512: 4, 1023: 1, 1024: 2, 1518: 1, 1519: 3, 2500: 2}
        frames = [padded(base, size) for size, n in sizes.items() for _ in range(n)]
        with Bptraf(lab.host, "--json", "-i", "0.2", "--sizes") as bp:
            bp.wait_ready()
            lab.send(frames)
            count_until(bp, lab.host, len(frames))
            code, out, err = bp.stop()
        assert code == 0, err
        assert size_totals(out, lab.host) == {
            "0-64": 3, "65-127": 4, "128-255": 2, "256-511": 1, "512-1023": 5, "1024-1518": 3, "1519+": 5,
        }  # fmt: skip
    finally:
        lab.destroy()


def kernel_flows(src, role: str) -> list[dict]:
    """The flows a table holds as the kernel has them, dumped by bpftool (not by bptraf's own reader): the
    used slots, each as {"key": ..., "value": counts}."""
    fdinfo = Path(f"/proc/self/fdinfo/{src._maps[role]}").read_text()
    map_id = next(line.split()[1] for line in fdinfo.splitlines() if line.startswith("map_id:"))
    slots = [e["formatted"]["value"] for e in json.loads(sh("bpftool", "-j", "map", "dump", "id", map_id).stdout)]
    return [{"key": s["key"], "value": s["flow"]} for s in slots if s["key"]["state"] != 0]


def test_idle_flows_are_deleted_from_the_kernel_table(lab):
    from bptraf.bpf import BpfSource
    from bptraf.sampler import Sampler
    from bptraf.source import Feature

    v4, v6 = eth(0x0800, ipv4(17, udp(7000, 7001))), eth(0x86DD, ipv6(6, tcp(7002, 7003)))
    with BpfSource([lab.host], features=Feature.FLOWS, flows_idle_s=1.0) as src:
        sampler = Sampler(src)
        lab.send([v4, v4, v6])
        assert wait_for(lambda: sampler.sample().totals[0].packets[0] == 3)
        assert [(f["key"]["proto"], f["value"]["packets"]) for f in kernel_flows(src, "flows4")] == [(17, 2)]
        assert [(f["key"]["proto"], f["value"]["packets"]) for f in kernel_flows(src, "flows6")] == [(6, 1)]
        # Idle for longer than 1 s: the next read deletes both from the kernel's tables.
        assert wait_for(lambda: not sampler.sample().flows[0], timeout=10.0, step=0.3)
        assert kernel_flows(src, "flows4") == [] and kernel_flows(src, "flows6") == []
        # A flow that keeps sending is never idle.
        lab.send([v4])
        assert wait_for(lambda: sampler.sample().flows[0])
        assert [f["value"]["packets"] for f in kernel_flows(src, "flows4")] == [1]


def test_full_table_evicts_and_says_so_once(lab):
    """16 entries per table, 3 rounds of 40 new flows: the table fills, the least active flows are
    evicted, the packets that found no room are counted, and the warning comes once."""
    from bptraf.bpf import BpfSource
    from bptraf.sampler import Sampler
    from bptraf.source import Feature

    notes: list[str] = []
    samples = []
    sent = 0
    with BpfSource([lab.host], features=Feature.FLOWS, flows_max=16, note=notes.append) as src:
        sampler = Sampler(src)
        for r in range(3):
            lab.send([eth(0x0800, ipv4(17, udp(20_000 + 100 * r + i, 9))) for i in range(40)])
            sent += 40
            deadline = time.monotonic() + 10
            first = len(samples)
            while time.monotonic() < deadline:  # every sample counts, so keep them all
                samples.append(sampler.sample())
                if samples[-1].totals[0].packets[0] == sent:
                    break
                time.sleep(0.05)
            assert any(s.flows_full for s in samples[first:])
            assert len(kernel_flows(src, "flows4")) <= 16
        # Flows are read before the counters, so the last packets' flows show in the next sample.
        samples.append(sampler.sample())
    seen = sum(r.packets for s in samples for r in s.flows[0])
    untracked = sum(s.flows_untracked for s in samples)
    assert sum(s.flows_evicted for s in samples) > 0 and untracked > 0
    # Every packet is in a flow or in the untracked count: nothing is lost without a word.
    assert seen + untracked == sent
    assert sum("flow table is full" in n for n in notes) == 1, notes


def test_full_table_warning_on_stderr_once_and_eviction_count_in_json(lab):
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--flows-max", "16") as bp:
        bp.wait_ready()
        for r in range(3):
            lab.send([eth(0x0800, ipv4(17, udp(30_000 + 100 * r + i, 9))) for i in range(40)])
            count_until(bp, lab.host, 40 * (r + 1))
        code, out, err = bp.stop()
    assert code == 0, err
    assert err.count("flow table is full") == 1, err
    recs = list(records(out, lab.host))
    assert sum(r["flows_evicted"] for r in recs) > 0
    assert sum(r["flows_untracked_packets"] for r in recs) > 0


def test_idle_flows_age_out(lab):
    frame = eth(0x0800, ipv4(17, udp(7000, 7001)))
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--flows-idle", "1") as bp:
        bp.wait_ready()
        lab.send([frame] * 2)
        count_until(bp, lab.host, 2)
        seen = [json.loads(line)["flows"] for line in bp.lines[-1:]]
        assert any(f["sport"] == 7000 for f in seen[-1])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not json.loads(bp.readline())["flows"]:
                break
        last = json.loads(bp.lines[-1])["flows"]
        code, _, _ = bp.stop()
    assert last == [], "an idle flow was not aged out"
    assert code == 0


def test_an_aged_out_flow_is_gone_from_the_kernel_and_counts_afresh(lab):
    """Ageing deletes the kernel entry, not just hides it: the same flow seen again starts from zero."""
    frame = eth(0x0800, ipv4(17, udp(7100, 7101)))
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--flows-idle", "1") as bp:
        bp.wait_ready()
        lab.send([frame] * 2)
        count_until(bp, lab.host, 2)
        deadline = time.monotonic() + 15
        while json.loads(bp.lines[-1])["flows"] and time.monotonic() < deadline:
            bp.readline()
        assert json.loads(bp.lines[-1])["flows"] == [], "the idle flow was not aged out"
        aged = len(bp.lines)
        lab.send([frame] * 3)
        count_until(bp, lab.host, 5)
        code, out, _ = bp.stop()
    assert code == 0
    again = [f for line in bp.lines[aged:] for f in json.loads(line)["flows"]]
    assert again and {f["total_packets"] for f in again} == {3}, again
    assert {f["total_bytes"] for f in again} == {3 * len(frame)}
    assert flow_totals(out, lab.host) == {("udp", *V4[:1], 7100, V4[1], 7101): (5, 5 * len(frame))}


def test_ageing_deletes_idle_entries_from_the_kernel_map(lab):
    """Read the flow map itself (not bptraf's output): after ageing, the idle entry is not in it."""
    from bptraf.bpf import BpfSource
    from bptraf.source import Feature

    with BpfSource([lab.host], features=Feature.FLOWS, flows_idle_s=2) as src:

        def in_kernel() -> int:
            return len(kernel_flows(src, "flows4")) + len(kernel_flows(src, "flows6"))

        lab.send([eth(0x0800, ipv4(17, udp(7200, 7201)))] * 2 + [eth(0x0800, ipv4(17, udp(7202, 7203)))])
        assert wait_for(lambda: in_kernel() == 2), "the kernel did not record two flows"
        assert {(f.sport, f.packets) for f in src.read_flows()} == {(7200, 2), (7202, 1)}
        keep = eth(0x0800, ipv4(17, udp(7204, 7205)))

        def aged() -> bool:
            lab.send([keep])  # a flow that stays busy, so only the idle ones may go
            return {f.sport for f in src.read_flows()} == {7204}

        assert wait_for(aged, timeout=15, step=0.25), "idle flows were still reported"
        assert in_kernel() == 1, "bptraf hid the idle flows but left them in the kernel map"
        # A flow that keeps sending outlives the idle limit: traffic for 4.5 s (each send takes a while).
        end = time.monotonic() + 4.5
        while time.monotonic() < end:
            lab.send([keep])
            assert {f.sport for f in src.read_flows()} == {7204}, "a busy flow was aged out"
        assert in_kernel() == 1


def test_flow_table_never_exceeds_its_bound(lab):
    # 3000 distinct source ports into a 256-entry LRU table.
    frames = [eth(0x0800, ipv4(17, udp(10_000 + i, 9))) for i in range(3000)]
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--flows-max", "256", "--top", "1000") as bp:
        bp.wait_ready()
        lab.send(frames)
        count_until(bp, lab.host, len(frames))
        code, out, _ = bp.stop()
    assert code == 0
    sizes = [len(json.loads(line)["flows"]) for line in out.splitlines()]
    assert 0 < max(sizes) <= 256
    assert totals(out, lab.host)["udp"][0] == 3000  # the class counters miss nothing


def test_drop_mode_refuses_flows(lab):
    import subprocess
    import sys

    from runner import ROOT

    proc = subprocess.run(
        [sys.executable, "-m", "bptraf", lab.host, "-d", "--flows"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr == "bptraf: -d counts totals only: it cannot be combined with --flows\n"
    assert not lab.xdp_attached()


def test_features_switch_at_run_time_without_a_gap(lab):
    """Swapping programs behind the link: sizes and flows count from the swap on, classes throughout."""
    from bptraf.bpf import BpfSource
    from bptraf.sampler import Sampler
    from bptraf.source import Feature

    frame = eth(0x0800, ipv4(17, udp(6000, 6001)))
    with BpfSource([lab.host]) as src:
        sampler = Sampler(src)
        first_id = _prog_id(lab.host)
        lab.send([frame] * 3)
        assert wait_for(lambda: src.read()[0].packets[0] == 3)
        src.set_features(Feature.SIZES | Feature.FLOWS)
        assert _prog_id(lab.host) not in (None, first_id)
        lab.send([frame] * 5)
        assert wait_for(lambda: src.read()[0].packets[0] == 8)
        sample = sampler.sample()
        assert sample.features == Feature.SIZES | Feature.FLOWS
        assert sample.totals[0].packets[0] == 8  # the class counters never stopped
        assert sum(sample.totals[0].sizes) == 5  # the histogram counts from the swap on
        (only,) = sample.flows[0]
        assert (only.flow.sport, only.flow.packets) == (6000, 5)
        assert len(kernel_flows(src, "flows4")) == 1
        src.set_features(Feature.NONE)
        assert kernel_flows(src, "flows4") == []  # switching flows off empties the kernel table
    assert not lab.xdp_attached()


def _prog_id(iface: str) -> int | None:
    info = json.loads(sh("ip", "-j", "-d", "link", "show", "dev", iface).stdout)[0]
    return info.get("xdp", {}).get("prog", {}).get("id")


def test_mapped_read_decodes_known_kernel_entries():
    """Slots written into the loaded program's own tables by the kernel's map calls come back exactly
    through the reader's mapping and the decode."""
    import os

    from flowmaps import write_slot
    from test_flows import FD00_1, FD00_2, MAPPED, keys4, keys6

    from bptraf import flows, loader
    from bptraf.flowtable import FlowTables

    progs, maps = loader.load("pass", 1, 4096)["pass"]
    try:
        n = 3000
        for i in range(n):  # spread over the table (8,192 slots), every other slot
            k = keys4(([198, 18, i >> 8, i & 0xFF], [198, 19, 0, 1], 1024 + i, 53, 17, 0))
            write_slot(maps["flows4"], 2 * i, k, (i + 1, 100 * (i + 1), 0, 0))
        write_slot(maps["flows6"], 0, keys6((FD00_2, FD00_1, 40000, 443, 6, 0)), (7, 7000, 0, 0))
        write_slot(maps["flows6"], 8191, keys6((MAPPED, FD00_1, 0, 0, 58, 0)), (1, 90, 0, 0))
        table, state = FlowTables(maps, 4096, 1, idle_ns=10**12).read(now_ns=1)
        got = {(f.proto_name, f.src, f.sport, f.dst, f.dport): (f.packets, f.bytes) for f in flows.from_table(table)}
        want = {("udp", f"198.18.{i >> 8}.{i & 0xFF}", 1024 + i, "198.19.0.1", 53): (i + 1, 100 * (i + 1))
                for i in range(n)}  # fmt: skip
        want[("tcp", "fd00::2", 40000, "fd00::1", 443)] = (7, 7000)
        want[("icmpv6", "198.18.0.9", 0, "fd00::1", 0)] = (1, 90)
        assert got == want
        assert (state.evicted, state.untracked_packets, state.full) == (0, 0, False)
    finally:
        for fd in [fd for fds in progs.values() for fd in fds] + list(maps.values()):
            os.close(fd)


def test_two_readers_of_one_table_each_get_their_own_intervals(lab):
    """The TUI's sampler and the exporter read the same kernel table: each one's flow growth is counted
    from its own previous read, never from the other's."""
    from bptraf.bpf import BpfSource
    from bptraf.sampler import Sampler
    from bptraf.source import Feature

    frame = eth(0x0800, ipv4(17, udp(8100, 8101)))
    with BpfSource([lab.host], features=Feature.FLOWS) as src:
        first, second = Sampler(src), Sampler(src)
        got = {id(first): 0, id(second): 0}
        sent = 0
        for n in (3, 4, 5):
            lab.send([frame] * n)
            sent += n
            for s in (first, second):
                assert wait_for(lambda sent=sent: src.read()[0].packets[0] == sent)
                s_sample = s.sample()
                got[id(s)] += sum(r.packets for r in s_sample.flows[0])
        for s in (first, second):  # flows are read before the counters: one more read catches up
            got[id(s)] += sum(r.packets for r in s.sample().flows[0])
    assert got == {id(first): 12, id(second): 12}
