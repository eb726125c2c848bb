"""Flows both ways: a conversation is one row, received (<=) from its source and sent (=>) back to it.

Pure layers first (orders, JSON, plain lines, the TUI table, replay), then real veth pairs: exact
counts both ways with TSO/GSO off, a send-only flow, a TSO bulk transfer's segments, and --no-tx.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fakes import FakeSource, attachment
from test_tui import feed, flow_rows, make_app

from bptraf.flowarray import FLOW, FlowArray
from bptraf.flows import SORT_KEYS, Flow, FlowRate, group, rates, top
from bptraf.sampler import Sampler
from bptraf.source import Feature
from bptraf.writers import FLOW_HEADER_TX, JsonWriter, PlainWriter

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def conversations(k: int) -> list[Flow]:
    """Cumulative after k seconds: three conversations whose orders by received, sent and summed
    bytes per second all differ (sum: C B A; received: A C B; sent: B C A)."""
    return [
        # A: big frames in, small acknowledgements out
        Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 100 * k, 150_000 * k, 1, 2, 0, 100 * k, 6_000 * k),
        # B: a request in, a bulk reply out
        Flow(0, 6, "198.18.0.3", 33000, "198.18.0.1", 443, 10 * k, 1_000 * k, 1, 2, 0, 120 * k, 180_000 * k),
        # C: busy both ways
        Flow(0, 17, "198.18.0.4", 5000, "198.18.0.1", 53, 1000 * k, 140_000 * k, 1, 2, 0, 900 * k, 90_000 * k),
    ]


ORDERS = {
    "bps": ["198.18.0.4", "198.18.0.3", "198.18.0.2"],
    "rx_bps": ["198.18.0.2", "198.18.0.4", "198.18.0.3"],
    "tx_bps": ["198.18.0.3", "198.18.0.4", "198.18.0.2"],
    "pps": ["198.18.0.4", "198.18.0.2", "198.18.0.3"],
    "rx_pps": ["198.18.0.4", "198.18.0.2", "198.18.0.3"],
    "tx_pps": ["198.18.0.4", "198.18.0.3", "198.18.0.2"],
    "total": ["198.18.0.4", "198.18.0.3", "198.18.0.2"],
}


def as_rows(flows: list[Flow]) -> np.ndarray:
    """The same flows as a decoded kernel table (bptraf.flowarray.FLOW rows)."""
    out = np.zeros(len(flows), FLOW)
    for row, f in zip(out, flows):
        for side, host in (("src", f.src), ("dst", f.dst)):
            row[side][10:12] = 0xFF
            row[side][12:] = [int(x) for x in host.split(".")]
        for name in ("slot", "proto", "sport", "dport", "packets", "bytes", "first_ns", "last_ns", "tx_packets",
                     "tx_bytes"):  # fmt: skip
            row[name] = getattr(f, name)
        row["h"] = f.sport  # the key hash reads are matched by: distinct here
    return out


@pytest.mark.parametrize("by", SORT_KEYS)
def test_each_order_both_as_records_and_as_rows(by):
    before, now = conversations(1), conversations(3)
    records = rates({f.key: f for f in before}, now, 2.0)
    assert [r.flow.src for r in top(records, 3, by)] == ORDERS[by]
    table = FlowArray(as_rows(now)).since(FlowArray(as_rows(before))).rates(0, 2.0)
    assert [r.flow.src for r in top(table, 3, by)] == ORDERS[by]
    # The numpy rows and the records carry the same both-way figures.
    assert sorted(top(table, 3, by), key=lambda r: r.flow.sport) == sorted(records, key=lambda r: r.flow.sport)


def test_the_orders_differ_and_sent_rates_come_from_the_sent_side():
    assert len({tuple(v) for k, v in ORDERS.items() if k.endswith("bps")}) == 3
    (b,) = [r for r in rates({}, conversations(2), 2.0) if r.flow.sport == 33000]
    assert (b.tx_packets, b.tx_bytes, b.tx_pps, b.tx_bps) == (240, 360_000, 120.0, 1_440_000.0)
    assert (b.packets, b.bytes, b.pps, b.bps) == (20, 2_000, 10.0, 8_000.0)


def test_group_totals_carry_both_sides():
    before, now = conversations(1), conversations(3)
    expect = {g.name: g for g in group(rates({f.key: f for f in before}, now, 2.0), "dst")}
    table = FlowArray(as_rows(now)).since(FlowArray(as_rows(before))).rates(0, 2.0)
    (g,) = group(table, "dst")
    assert g == expect["198.18.0.1"]
    assert (g.flows, g.packets, g.tx_packets) == (3, 2 * 1110, 2 * 1120)
    assert (g.bytes, g.tx_bytes) == (2 * 291_000, 2 * 276_000)
    assert (g.total_bytes, g.tx_total_bytes) == (3 * 291_000, 3 * 276_000)
    assert (g.pps, g.tx_pps, g.bps, g.tx_bps) == (1110.0, 1120.0, 2_328_000.0, 2_208_000.0)


def tx_source(flows: list[Flow], tx: bool = True) -> FakeSource:
    """One interval of 1.25 s with `flows`, and (with tx) something sent, so TX counts."""
    a = (attachment("eth0"),)
    totals = {"all": (3000, 3_000_000)}
    if tx:
        totals["tx"] = {"all": (2000, 2_000_000)}
    src = FakeSource(a, [(1_250_000_000, [totals])])
    src.set_features(Feature.FLOWS | (Feature.TX if tx else Feature.NONE))
    src.flow_script = [flows]
    return src


def test_json_flow_record_golden_with_both_sides():
    flow = Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 25, 25_000, 10, 20, 0, 50, 5_000)
    src = tx_source([flow])
    out = io.StringIO()
    JsonWriter(out, src.attachments)(Sampler(src, wall=lambda: T0).sample())
    assert json.loads(out.getvalue())["flows"] == [
        {"proto": "udp", "src": "198.18.0.2", "sport": 4000, "dst": "198.18.0.1", "dport": 53,
         "packets": 25, "bytes": 25_000, "pps": 20.0, "bps": 160_000.0, "total_packets": 25, "total_bytes": 25_000,
         "tx_packets": 50, "tx_bytes": 5_000, "tx_pps": 40.0, "tx_bps": 32_000.0,
         "tx_total_packets": 50, "tx_total_bytes": 5_000},
    ]  # fmt: skip


def test_without_tx_json_and_plain_flows_say_nothing_of_a_sent_side():
    flow = Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 25, 25_000, 10, 20)
    out = io.StringIO()
    JsonWriter(out, tx_source([flow], tx=False).attachments)(Sampler(tx_source([flow], tx=False)).sample())
    (record,) = json.loads(out.getvalue())["flows"]
    assert not [k for k in record if k.startswith("tx")]
    src = tx_source([flow], tx=False)
    out = io.StringIO()
    PlainWriter(out, src.attachments)(Sampler(src).sample())
    assert "=>" not in out.getvalue() and " PROTO        pps        bps    PKTS    BYTES  SRC > DST" in out.getvalue()


def test_plain_flow_lines_both_ways_golden():
    flows = [
        Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 25, 25_000, 10, 20, 0, 50, 5_000),
        Flow(0, 6, "fd00::2", 40000, "fd00::1", 22, 5, 500, 10, 20, 0, 0, 0),
    ]
    src = tx_source(flows)
    out = io.StringIO()
    PlainWriter(out, src.attachments)(Sampler(src).sample())
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 100 for line in lines)
    at = lines.index(FLOW_HEADER_TX)
    assert lines[at:] == [
        " PROTO     <= pps     <= bps     => pps     => bps    PKTS    BYTES  SRC > DST",
        "   udp     20 pps 160.0 Kbps     40 pps 32.00 Kbps      75 30.00 KB  198.18.0.2:4000 > 198.18.0.1:53",
        "   tcp      4 pps   3200 bps      0 pps      0 bps       5    500 B  [fd00::2]:40000 > [fd00::1]:22",
        "",
    ]


def test_replay_reads_the_sent_side_and_old_logs_without_it():
    from bptraf.replay import ReplaySource, load

    src = tx_source([Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 25, 25_000, 10, 20, 0, 50, 5_000)])
    out = io.StringIO()
    JsonWriter(out, src.attachments)(Sampler(src, wall=lambda: T0).sample())
    record = json.loads(out.getvalue())
    old = {**record, "flows": [{k: v for k, v in f.items() if not k.startswith("tx")} for f in record["flows"]]}
    for log, sent in ((record, (50, 5_000)), (old, (0, 0))):
        replay = ReplaySource(load([json.dumps(log)], "test"))
        replay.features = Feature.FLOWS
        (r,) = Sampler(replay).sample().flows[0]
        assert (r.packets, r.bytes, (r.tx_packets, r.tx_bytes)) == (25, 25_000, sent)


def conversations_app(tx: bool):
    """The TUI over a scripted source whose flows are `conversations()`, TX counted or not."""
    app, sampler = make_app(tx=tx)
    app.source.flow_script = [conversations(k) for k in range(1, 10)]
    app.source.set_features(Feature.FLOWS | Feature.TX if tx else Feature.FLOWS)
    return app, sampler


async def test_tui_rows_are_conversations_sorted_by_each_direction():
    app, sampler = conversations_app(tx=True)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one("#panel0 .flows RowTable")
        assert [c.label for c in table.columns] == ["proto", "source", "destination", "<= bps", "=> bps", "pps",
                                                    "bytes"]  # fmt: skip
        # A's row: 150 KB in (1200 Kbps), 6 KB out (48 Kbps), 200 pps both ways, 2 x 156 KB since first seen.
        assert flow_rows(app)[2][3:] == ["1200 K", "48.00 K", "200", "312.0 K"]
        seen = []
        for by in SORT_KEYS:
            assert [r[1].split(":")[0] for r in flow_rows(app)] == ORDERS[by], by
            seen.append(str(app.query_one("#panel0 .flows FlowsTitle").render()))
            await pilot.press("s")
        assert app.view.flows.sort == "bps"  # round the cycle
        assert "sorted by bps both ways" in seen[0] and "sorted by => bps sent" in seen[2]
        assert "sorted by <= pps received" in seen[4]
        # Sorted by pps, the pair is in pps: what the order is made of stays on screen.
        await pilot.press("s", "s", "s", "s")
        assert [c.label for c in table.columns][3:5] == ["<= pps", "=> pps"]
        assert flow_rows(app)[1][3:6] == ["100", "100", "1248 K"]


async def test_tui_without_tx_has_no_sent_column_and_no_one_way_orders():
    app, sampler = conversations_app(tx=False)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one("#panel0 .flows RowTable")
        assert [c.label for c in table.columns] == ["proto", "source", "destination", "pps", "bps", "bytes"]
        assert "sorted by bps (s sort" in str(app.query_one("#panel0 .flows FlowsTitle").render())
        sorts = []
        for _ in range(4):
            sorts.append(app.view.flows.sort)
            await pilot.press("s")
        assert sorts == ["bps", "pps", "total", "bps"]


async def test_tui_conversation_rows_fit_80_columns():
    app, sampler = conversations_app(tx=True)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one("#panel0 .flows RowTable")
        lines = [table.render_line(y).text for y in range(table.size.height)]
        assert all(len(line.rstrip()) <= 80 for line in lines)
        assert "198.18.0.3:33000" in "".join(lines)  # IPv4 endpoints are not cut at 80
        assert lines[0].split()[3:7] == ["<=", "bps", "=>", "bps"]


def test_both_ways_columns_keep_whole_ipv4_endpoints_at_80():
    """As a real run at 80x24 showed them: 8-wide numbers cut the peer's address, 7 leave it whole."""
    from bptraf.tui.widgets.flows import columns
    from bptraf.tui.widgets.rows import line

    cols = ("proto", "source", "destination", "<= bps", "=> bps", "pps", "bytes")
    found = [("udp", "198.18.0.6:60376", "198.18.0.5:9000", "790.1 K", "2143 K", "676", "2226 K")]
    row = line(found[0], columns(cols, found, 80))
    assert row == " udp    198.18.0.6:60376  198.18.0.5:9000  790.1 K   2143 K      676   2226 K"
    assert line(cols, columns(cols, found, 0)).endswith("<= bps    => bps       pps     bytes")  # room: 8 wide


def test_flow_rate_defaults_keep_old_callers_working():
    r = FlowRate(Flow(0, 17, "a", 1, "b", 2, 3, 4, 5, 6), 1, 2, 3.0, 4.0)
    assert (r.tx_packets, r.tx_bytes, r.tx_pps, r.tx_bps, r.flow.tx_packets) == (0, 0, 0.0, 0.0, 0)


@pytest.mark.parametrize("tx", [True, False], ids=["tx", "no-tx"])
def test_exporter_flow_series_both_ways_under_one_conversation_label_set(tx):
    import shutil
    import subprocess

    from bptraf.exporter import encode
    from bptraf.exporter.metrics import Collector

    src = tx_source(conversations(2), tx)
    families = {m.name: m for m in Collector(src, flows_top=2).collect()}
    flows = {n: {tuple(sorted(s.labels.items())): s.value for s in families[n].samples}
             for n in families if "_flow_" in n}  # fmt: skip
    want = {"bptraf_receive_flow_packets", "bptraf_receive_flow_bytes"}
    if tx:
        want |= {"bptraf_transmit_flow_packets", "bptraf_transmit_flow_bytes"}
    assert set(flows) == want
    # The top two by bytes both ways: C and B; the transmit series share the receive series' labels.
    b = next(k for k in flows["bptraf_receive_flow_bytes"] if ("sport", "33000") in k)
    assert {dict(k)["src"] for k in flows["bptraf_receive_flow_bytes"]} == {"198.18.0.4", "198.18.0.3"}
    assert flows["bptraf_receive_flow_bytes"][b] == 2_000
    if tx:
        assert flows["bptraf_transmit_flow_bytes"][b] == 360_000
        assert flows["bptraf_transmit_flow_packets"][b] == 240
        done = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                              input=encode.text(families.values()), capture_output=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


# -- real veth pairs -----------------------------------------------------------------------------
V4, V6 = ("198.18.0.2", "198.18.0.1"), ("fd00::2", "fd00::1")


def reply(frame: bytes) -> bytes:
    """The frame as the host would answer it: IPv4 or IPv6 addresses swapped, and the L4 ports."""
    b = bytearray(frame)
    l3, a, n = (14, 12, 4) if frame[12:14] == b"\x08\x00" else (14, 8, 16)
    src, dst = slice(l3 + a, l3 + a + n), slice(l3 + a + n, l3 + a + 2 * n)
    b[src], b[dst] = frame[dst], frame[src]
    l4 = l3 + (20 if n == 4 else 40)
    b[l4 : l4 + 2], b[l4 + 2 : l4 + 4] = frame[l4 + 2 : l4 + 4], frame[l4 : l4 + 2]
    return bytes(b)


def both_ways(out: str, iface: str) -> dict[tuple, tuple[int, int, int, int]]:
    """Each conversation's packets and bytes received, then sent, summed over every interval's deltas."""
    from runner import records

    got: dict[tuple, list[int]] = {}
    for r in records(out, iface):
        for f in r.get("flows", []):
            t = got.setdefault((f["proto"], f["src"], f["sport"], f["dst"], f["dport"]), [0, 0, 0, 0])
            for i, name in enumerate(("packets", "bytes", "tx_packets", "tx_bytes")):
                t[i] += f.get(name, 0)  # no tx_ keys while TX is off
    return {k: tuple(v) for k, v in got.items()}


def run_both_ways(lab, received: list[bytes], sent: list[bytes], *flags: str) -> str:
    """A --flows run while `received` arrive from the peer and `sent` leave the host; its JSON lines."""
    from runner import Bptraf
    from test_tx import send_from_host, tx_until
    from test_xdp import count_until

    with Bptraf(lab.host, "--json", "-i", "0.2", "--flows", "--top", "100", *flags) as bp:
        bp.wait_ready()
        if received:
            lab.send(received)
        if sent:
            send_from_host(lab.host, sent)
        count_until(bp, lab.host, len(received))
        if "--no-tx" not in flags:
            tx_until(bp, lab.host, "all", len(sent))
        code, out, err = bp.stop()  # the last, partial interval reads the flows once more
    assert code == 0, err
    return out


@pytest.mark.bpf
def test_a_conversation_is_one_row_with_exact_counts_both_ways(lab):
    from frames import eth, ipv4, ipv6, tcp, udp
    from netlab import sh

    sh("ethtool", "-K", lab.host, "tso", "off", "gso", "off")
    # (key as received, frame from the peer, times received, the host's answer, times sent)
    talks = [
        (("udp", V4[0], 4001, V4[1], 53), eth(0x0800, ipv4(17, udp(4001, 53, 100))), 5, 300, 3),
        (("tcp", V4[0], 33000, V4[1], 443), eth(0x0800, ipv4(6, tcp(33000, 443))), 7, 1000, 11),
        (("tcp", V6[0], 40000, V6[1], 22), eth(0x86DD, ipv6(6, tcp(40000, 22, 40))), 4, 500, 6),
    ]
    received = [f for _k, f, n, _size, _m in talks for _ in range(n)]
    sent = []
    for _key, f, _n, size, m in talks:
        # The answer is `size` bytes longer (trailing bytes, as padding): counted on the wire all the same.
        sent += [reply(f) + bytes(size)] * m
    # A flow the host only sends on: no reply ever comes, so it is a row with only the sent side.
    lonely = eth(0x0800, ipv4(17, udp(9, 7000, 60)))  # as its reply would arrive: 198.18.0.2:9 > :7000
    sent += [reply(lonely)] * 4
    out = run_both_ways(lab, received, sent)
    got = both_ways(out, lab.host)
    want = {key: (n, n * len(f), m, m * (len(f) + size)) for key, f, n, size, m in talks}
    want[("udp", V4[0], 9, V4[1], 7000)] = (0, 0, 4, 4 * len(lonely))
    assert got == want
    print("both ways:", got)


@pytest.mark.bpf
def test_no_tx_keeps_flows_received_only(lab):
    from frames import eth, ipv4, udp
    from runner import records

    frame = eth(0x0800, ipv4(17, udp(4001, 53)))
    out = run_both_ways(lab, [frame] * 3, [reply(frame)] * 2, "--no-tx")
    flows = [f for r in records(out, lab.host) for f in r.get("flows", [])]
    assert flows and not [k for f in flows for k in f if k.startswith("tx")]
    assert both_ways(out, lab.host) == {("udp", V4[0], 4001, V4[1], 53): (3, 3 * len(frame), 0, 0)}


def test_drop_mode_refuses_flows_and_so_never_counts_them_both_ways():
    import subprocess
    import sys

    from runner import ROOT

    done = subprocess.run([sys.executable, "-m", "bptraf", "-d", "--flows", "lo", "-c", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "bptraf: -d counts totals only: it cannot be combined with --flows"


@pytest.fixture
def ns_pair():
    from test_tx import NsPair

    pair = NsPair()
    yield pair
    pair.destroy()


@pytest.mark.bpf
def test_tso_bulk_transfer_sent_side_counts_segments(ns_pair):
    """A conversation's sent side, on the sender's end with TSO on, is its wire segments: within 0.5%
    of the sender namespace's TcpOutSegs (+ RetransSegs), as TX counting is (test_tx.py)."""
    from test_tx import tso_transfer

    pair = ns_pair
    out, port, grew, skbs = tso_transfer(pair, 40 << 20, "--flows")
    segs, in_segs = grew["OutSegs"] + grew["RetransSegs"], grew["InSegs"]
    # The sink's answers arrive from 198.18.0.6:port: one row holds the transfer both ways.
    rows = {k: v for k, v in both_ways(out, pair.ia).items() if k[:3] == ("tcp", "198.18.0.6", port)}
    assert len(rows) == 1, rows
    ((rx_packets, _rx_bytes, tx_packets, _tx_bytes),) = rows.values()
    assert abs(tx_packets - segs) <= 0.005 * segs, (tx_packets, segs)
    assert abs(rx_packets - in_segs) <= 0.005 * in_segs, (rx_packets, in_segs)
    print(f"TSO conversation: sent {tx_packets} (TcpOutSegs+RetransSegs {segs}, {skbs} skbs), "
          f"received {rx_packets} (InSegs {in_segs})")  # fmt: skip


@pytest.mark.bpf
def test_switching_flows_swaps_the_egress_program_too(lab):
    """Flows switched on at run time (the TUI's `f`) key sent frames too; switched off, the egress
    program goes back to counting alone: the kernel's table gets no entry from what is sent."""
    from frames import eth, ipv4, udp
    from runner import wait_for
    from test_tx import send_from_host
    from test_xdp_flows import kernel_flows

    from bptraf.bpf import BpfSource

    frame = reply(eth(0x0800, ipv4(17, udp(4001, 53))))  # 198.18.0.1:53 > 198.18.0.2:4001
    with BpfSource([lab.host], features=Feature.TX) as src:
        sampler = Sampler(src)
        src.set_features(Feature.TX | Feature.FLOWS)
        send_from_host(lab.host, [frame] * 3)
        seen: list = []

        def sent() -> int:
            s = sampler.sample()
            seen.extend((r.flow.key, r.packets, r.tx_packets) for r in s.flows[0])
            return sum(tx for _k, _p, tx in seen)

        assert wait_for(lambda: sent() == 3)
        assert {(k[2:], p) for k, p, _tx in seen} == {((17, V4[0], 4001, V4[1], 53), 0)}
        src.set_features(Feature.TX)
        send_from_host(lab.host, [frame] * 2)
        assert wait_for(lambda: sampler.sample().totals[0].tx_packets[0] == 5)
        assert kernel_flows(src, "flows4") == []
