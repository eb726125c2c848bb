"""Real XDP: per-flow packets and bytes, the frame-size histogram, ageing and the flow-table bound."""

from __future__ import annotations

import json
import time

import pytest
from frames import ICMP, ICMPV6, eth, ipv4, ipv6, padded, tcp, udp
from netlab import VethLab, sh
from runner import Bptraf, records, totals
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


def test_each_flow_counted_exactly(lab):
    frames = [f for _key, f, n in FLOWS for _ in range(n)]
    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--top", "100") as bp:
        bp.wait_ready()
        lab.send(frames)
        count_until(bp, lab.host, len(frames))
        code, out, err = bp.stop()
    assert code == 0, err
    assert flow_totals(out, lab.host) == {key: (n, n * len(f)) for key, f, n in FLOWS}
    assert totals(out, lab.host)["all"][0] == len(frames)


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
        time.sleep(0.3)
        src.set_features(Feature.SIZES | Feature.FLOWS)
        assert _prog_id(lab.host) not in (None, first_id)
        lab.send([frame] * 5)
        time.sleep(0.3)
        sample = sampler.sample()
        assert sample.features == Feature.SIZES | Feature.FLOWS
        assert sample.totals[0].packets[0] == 8  # the class counters never stopped
        assert sum(sample.totals[0].sizes) == 5  # the histogram counts from the swap on
        (only,) = sample.flows[0]
        assert (only.flow.sport, only.flow.packets) == (6000, 5)
        src.set_features(Feature.NONE)
        assert src._dump_flows() == []  # switching flows off empties the kernel table
    assert not lab.xdp_attached()


def _prog_id(iface: str) -> int | None:
    info = json.loads(sh("ip", "-j", "-d", "link", "show", "dev", iface).stdout)[0]
    return info.get("xdp", {}).get("prog", {}).get("id")
