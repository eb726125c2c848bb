"""The panels' figures, exactly, from the state they are handed: the kernel's view, the statistics a
board keeps, table cells, bars, the size histogram, the help list and the flows table's rows. Pure
functions here; the widgets that draw them are driven by Pilot in test_tui_widgets.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import attachment

from bptraf.flows import Flow, FlowRate
from bptraf.flows import rates as flow_rates_of
from bptraf.rates import Rates
from bptraf.tui import keys
from bptraf.tui.board import Board, NicCounters, NicRates, nic_rates
from bptraf.tui.help import help_lines, key_text
from bptraf.tui.widgets.flows import FlowsView, columns, rows, sort_label
from bptraf.tui.widgets.header import HeaderState, Hook, _shift, banner_text, trust_line
from bptraf.tui.widgets.kernel import KernelView, lines
from bptraf.tui.widgets.rows import Column, cell, line
from bptraf.tui.widgets.sizes import short
from bptraf.tui.widgets.text import bar

NIC = NicRates(16_100.0, 192_880_000.0, 3.0, 2400.0, rx_errors=1, rx_drops=2, tx_errors=3, tx_drops=4)


def plain(found):
    return [t.plain for t in found]


def test_kernel_view_on_one_line_when_it_fits_else_four():
    one = "kernel RX  16.10 Kpps  192.9 Mbps  TX       3 pps    2400 bps"
    assert len(one) == 61
    assert plain(lines(KernelView(NIC, 16_100 * 0.95), 61)) == [
        one,
        "errors rx 1 tx 3 · drops rx 2 tx 4 · XDP/kernel RX 95.0%",
        "",
    ]
    assert plain(lines(KernelView(NIC, 16_100 * 0.95), 60)) == [
        "kernel RX  16.10 Kpps  192.9 Mbps",
        "       TX       3 pps    2400 bps",
        "errors rx 1 tx 3 · drops rx 2 tx 4",
        "XDP / kernel RX: 95.0%",
    ]


def test_kernel_view_in_bytes_and_without_packets():
    assert plain(lines(KernelView(NIC, 100, bytes_mode=True), 80))[:2] == [
        "kernel RX  16.10 Kpps  24.11 MB/s  TX       3 pps     300 B/s",
        "errors rx 1 tx 3 · drops rx 2 tx 4 · XDP/kernel RX 0.6%",
    ]
    idle = NicRates(0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0)
    assert plain(lines(KernelView(idle, 5), 80))[1] == "errors rx 0 tx 0 · drops rx 0 tx 0 · XDP/kernel RX -"


def test_kernel_view_before_figures_says_why():
    assert plain(lines(None, 20)) == ["kernel RX/TX: waiting for a second read"]
    waiting = lines(KernelView(None, 1.0, missing="not in a replayed log"), 20)
    assert plain(waiting) == ["kernel RX/TX: not in a replayed log"] and str(waiting[0].style) == "dim"


def test_nic_rates_per_second_over_the_measured_period():
    prev = NicCounters(1_000_000_000, 10, 100, 1, 10, 5, 6, 7, 8)
    cur = NicCounters(1_500_000_000, 20, 300, 4, 30, 6, 8, 10, 12)
    assert nic_rates(prev, cur) == NicRates(
        rx_pps=20.0, rx_bps=3200.0, tx_pps=6.0, tx_bps=320.0, rx_errors=1, rx_drops=2, tx_errors=3, tx_drops=4
    )
    # Two reads at the same instant: no period, so no rate (not a rate per nanosecond)
    assert nic_rates(cur, NicCounters(1_500_000_000, 40, 900, 8, 90)) == NicRates(0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0)


def rates(period, packets, byts, tx=None):
    pps = tuple(p / period for p in packets)
    bps = tuple(8 * b / period for b in byts)
    out = Rates(period, packets, byts, pps, bps, (pps[0],), (bps[0],))
    if tx:
        tp, tb = tx
        out = Rates(period, packets, byts, pps, bps, (pps[0],), (bps[0],), (), tp, tb,
                    tuple(p / period for p in tp), tuple(8 * b / period for b in tb))  # fmt: skip
    return out


def test_board_totals_peaks_averages_and_history():
    a = attachment("eth0")
    n = len(a.counters)
    board = Board(a, ncpus=2, history=3)
    assert board.pps(1) == 0.0 and board.bps(1) == 0.0 and board.share(1) == 0.0 and board.avg_pps(1) == 0.0
    assert board.idle(0) and board.tx_pps(0) == 0.0 and board.tx_bps(0) == 0.0
    for k, period in enumerate((1.0, 2.0, 0.5, 1.0)):  # 4 intervals, 3 kept for the plots
        board.add(rates(period, (40 * (k + 1), 10 * (k + 1)) + (0,) * (n - 2), (4000, 1000) + (0,) * (n - 2)), 10.0 + k)
    assert board.packets[:3] == [400, 100, 0] and board.bytes[:2] == [16_000, 4000]
    assert board.peak_pps[:2] == [240.0, 60.0]  # the third interval: 120 packets in half a second
    assert board.elapsed_s == 4.5 and board.avg_pps(0) == 400 / 4.5
    assert board.pps(0) == 160.0 and board.bps(1) == 8000.0 and board.share(1) == 0.25
    assert list(board.times) == [11.0, 12.0, 13.0] and list(board.periods) == [2.0, 0.5, 1.0]
    assert list(board.pps_history[0]) == [40.0, 240.0, 160.0] and list(board.bps_history[1]) == [
        4000.0,
        16000.0,
        8000.0,
    ]
    assert not board.idle(1) and board.idle(2) and not board.tx_seen
    board.reset()  # the display's totals only: the plots keep their history
    assert board.packets[0] == 0 and board.peak_pps[0] == 0.0 and board.elapsed_s == 0.0 and board.avg_pps(0) == 0.0
    assert board.idle(1) and list(board.pps_history[0]) == [40.0, 240.0, 160.0] and board.pps(0) == 160.0


def test_board_counts_what_was_sent_and_a_sender_is_not_idle():
    a = attachment("eth0")
    n = len(a.counters)
    board = Board(a, ncpus=2)
    zero = (0,) * n
    board.add(rates(1.0, zero, zero, tx=((5,) + (0,) * (n - 1), (500,) + (0,) * (n - 1))), 1.0)
    board.add(rates(2.0, zero, zero, tx=((7,) + (0,) * (n - 1), (700,) + (0,) * (n - 1))), 3.0)
    assert board.tx_seen and board.tx_packets[0] == 12 and board.tx_bytes[0] == 1200
    assert board.tx_pps(0) == 3.5 and board.tx_bps(0) == 2800.0 and not board.idle(0)
    board.add(rates(1.0, zero, zero), 4.0)  # an interval without TX counts (a feature switch) keeps tx_seen
    assert board.tx_seen and board.tx_packets[0] == 12 and board.tx_pps(0) == 0.0


def test_board_nic_rates_from_the_second_read():
    board = Board(attachment("eth0"), ncpus=2)
    board.add_nic(NicCounters(0, 0, 0))
    assert board.nic is None
    board.add_nic(NicCounters(2_000_000_000, 50, 1000))
    assert board.nic.rx_pps == 25.0 and board.nic.rx_bps == 4000.0
    board.add_nic(NicCounters(3_000_000_000, 60, 1000))
    assert board.nic.rx_pps == 10.0 and board.nic.rx_bps == 0.0  # from the previous read, not the first


def test_cells_cut_in_the_middle_and_align():
    assert cell("198.18.0.2:40015", Column("source", 10, right=False)) == "198.18…015"  # the port's end stays
    assert cell("sender.example.test:4000", Column("source", 18, right=False)) == "sender.exam…t:4000"
    assert cell("a" * 30 + "b:40015", Column("source", 24, right=False)) == "a" * 17 + "…:40015"  # six at most
    assert cell("1234567", Column("pps", 5)) == "1234…"  # a number keeps its head
    assert cell("abcdefghij", Column("x", 2, right=False)) == "a…"
    assert cell("ab", Column("x", 5)) == "   ab" and cell("ab", Column("x", 5, right=False)) == "ab   "
    assert cell("abcde", Column("x", 5)) == "abcde"
    assert line(("a", "b", "c"), (Column("x", 3), Column("y", 2, right=False), Column("z", 1))) == "   a  b   c"


def test_bar_is_a_share_of_the_peak():
    b = bar(5, 10, 8)
    assert b.plain == "████░░░░" and [(s.start, s.end, str(s.style)) for s in b.spans] == [
        (0, 4, "green"),
        (4, 8, "dim"),
    ]
    assert bar(5, 0, 4).plain == "░░░░" and bar(10, 10, 3).plain == "███" and bar(1, 3, 4).plain == "█░░░"


def test_size_labels_are_upper_bounds():
    assert [short(x) for x in ("0-64", "65-127", "1024-1518", "1519+")] == ["≤64", "≤127", "≤1518", "1519+"]


def test_help_lists_each_key_once_with_its_text_in_order():
    found = help_lines(keys.BINDINGS)
    assert found[:5] == [
        ("?", "this list of keys"),
        ("q", "quit (detaches everything)"),
        ("Ctrl+C", "quit"),
        ("p, space", "pause the screen (live) or the replay; counting goes on"),
        ("f", "count per flow, on or off (pass mode)"),
    ]
    assert ("+", "longer interval") in found and ("1-9", "interface 1-9") in found
    assert [k for k, _ in found][-3:] == [">", "<", "."] and len(found) == len(set(found)) == 20


def test_key_names_shown():
    b = keys._b("plus,equals_sign", "interval(1)", "+ivl", "longer")
    assert key_text(b) == "+, =" and key_text(keys._b("plus", "x", "y", key_display="+")) == "+"
    assert key_text(keys._b("ctrl+c,tab,x", "quit", "quit")) == "Ctrl+C, Tab, x"


def test_bindings_carry_key_action_text_and_help():
    b = keys._b("x", "flows", "flows", "count per flow", show=False, priority=True)
    assert (b.key, b.action, b.description, b.tooltip, b.show, b.priority) == (
        "x", "flows", "flows", "count per flow", False, True,
    )  # fmt: skip
    b = keys._b("y", "pause", "pause")
    assert (b.tooltip, b.show, b.priority) == ("pause", True, False)  # the text is the help when none is given
    assert {(b.key, b.action) for b in keys.BINDINGS} >= {("q", "quit"), ("p,space", "pause"), ("s", "flow_sort")}


def test_trust_line_says_hooks_interval_uptime_cpus_and_pause():
    s = HeaderState((Hook("eth0", "native", "pass", 42), Hook("veth1", "generic", "drop")), 0.25, 90_061, 4)
    line = trust_line(s)
    assert line.plain == "bptraf │ eth0 native pass prog 42 │ veth1 generic  DROP  │ every 0.25s │ up 25:01:01 │ 4 CPUs"
    assert str(line.style) == "bold"  # the name; each DROP on its own text
    assert [(line.plain[x.start : x.end], str(x.style)) for x in line.spans if str(x.style)] == [
        (" DROP ", "reverse red")
    ]
    replay = trust_line(HeaderState((Hook("eth0", "replay", "pass"),), 2.0, 5, 0, True, "replay 4x · 12:00:01"))
    assert replay.plain == "bptraf │ eth0 replay pass │ every 2s │ replay 4x · 12:00:01 │  PAUSED "  # no CPUs


def test_shift_moves_spans_as_separators_lose_their_spaces():
    plain = "a │ b │ cc"
    assert _shift(plain, 4, 5) == (2, 3)  # `b`: one separator before it
    assert _shift(plain, 0, 10) == (0, 6)  # the whole: both separators inside
    assert _shift(plain, 8, 10) == (4, 6)


def test_banner_names_the_interfaces_and_warns_of_the_default_route():
    assert banner_text(("eth0", "eth1"), "eth1").plain == (
        "DROP MODE: every packet arriving on eth0, eth1 is being dropped"
        " · eth1 holds the default route: this host is cut off"
    )
    assert banner_text(("eth0",), None).plain == "DROP MODE: every packet arriving on eth0 is being dropped"


def flows3(k=1):
    return [
        Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 100 * k, 150_000 * k, 1, 2),
        Flow(0, 6, "198.18.0.3", 33000, "198.18.0.1", 443, 1000 * k, 64_000 * k, 1, 2),
        Flow(0, 17, "198.18.0.4", 5000, "198.18.0.9", 53, 10 * k + 5000, 1000 * k + 10_000_000, 1, 2),
    ]


def flow_rates():
    return flow_rates_of({f.key: f for f in flows3(1)}, flows3(2), 2.0)


def test_flow_rows_by_flow_in_each_unit_and_with_a_cap():
    cols, found = rows(flow_rates(), FlowsView("bps", "flow"))
    assert cols == ("proto", "source", "destination", "pps", "bps", "bytes")
    assert found == [
        ("udp", "198.18.0.2:4000", "198.18.0.1:53", "50", "600.0 K", "300.0 K"),
        ("tcp", "198.18.0.3:33000", "198.18.0.1:443", "500", "256.0 K", "128.0 K"),
        ("udp", "198.18.0.4:5000", "198.18.0.9:53", "5", "4000", "10.00 M"),
    ]
    cols, found = rows(flow_rates(), FlowsView("pps", "flow", bytes_mode=True, limit=2), name=str.upper)
    assert cols == ("proto", "source", "destination", "pps", "B/s", "bytes")
    assert found == [
        ("tcp", "198.18.0.3:33000", "198.18.0.1:443", "500", "32.00 K", "128.0 K"),
        ("udp", "198.18.0.2:4000", "198.18.0.1:53", "50", "75.00 K", "300.0 K"),
    ]


def test_flow_rows_grouped_by_host_and_port():
    cols, found = rows(flow_rates(), FlowsView("bps", "dst"), name=lambda a: {"198.18.0.9": "far.test"}.get(a, a))
    assert cols == ("dst", "flows", "pps", "bps", "bytes")
    assert found == [("198.18.0.1", "2", "550", "856.0 K", "428.0 K"), ("far.test", "1", "5", "4000", "10.00 M")]
    cols, found = rows(flow_rates(), FlowsView("total", "port", limit=1), name=lambda a: "never")
    assert cols == ("port", "flows", "pps", "bps", "bytes") and found == [("udp/53", "2", "55", "604.0 K", "10.30 M")]
    _, found = rows(flow_rates(), FlowsView("pps", "src"))
    assert [r[0] for r in found] == ["198.18.0.3", "198.18.0.2", "198.18.0.4"]


def test_flow_rows_both_ways_pair_the_sorted_unit():
    # 14 packets of 2000 bytes sent back in the 2 s; the flow's totals since first seen include them
    sent = [FlowRate(replace(r.flow, tx_packets=14, tx_bytes=2000), r.packets, r.bytes, r.pps, r.bps, 14, 2000, 7.0, 8000.0)
            for r in flow_rates()]  # fmt: skip
    cols, found = rows(sent, FlowsView("pps", "flow", tx=True))
    assert cols == ("proto", "source", "destination", "<= pps", "=> pps", "bps", "bytes")
    assert found[0][1:] == ("198.18.0.3:33000", "198.18.0.1:443", "500", "7", "264.0 K", "130.0 K")  # both ways
    cols, found = rows(sent, FlowsView("bps", "flow", tx=True, bytes_mode=True))
    assert cols == ("proto", "source", "destination", "<= B/s", "=> B/s", "pps", "bytes")
    assert found[0][3:6] == ("75.00 K", "1000", "57")


def test_sort_labels_with_and_without_a_sent_side():
    assert sort_label(FlowsView("bps", "flow")) == "bps" and sort_label(FlowsView("total", "flow")) == "total bytes"
    assert sort_label(FlowsView("rx_pps", "flow", tx=True)) == "<= pps received"
    assert sort_label(FlowsView("total", "flow", tx=True)) == "total bytes"


@pytest.mark.parametrize("width", [0, 80, 60])
def test_flow_columns_narrow_the_widest_name_first(width):
    cols = ("proto", "source", "destination", "pps", "bps", "bytes")
    found = [("udp", "s" * 30, "d" * 20, "1", "2", "3")]
    got = [(c.label, c.width, c.right) for c in columns(cols, found, width)]
    want = {
        0: [("proto", 5, False), ("source", 30, False), ("destination", 20, False)] + [(n, 8, True) for n in cols[3:]],
        # 80: 1 + 2 x 5 between + 3 x 7 for numbers (each gave up its spare column): 48 for 55 of names
        80: [("proto", 5, False), ("source", 23, False), ("destination", 20, False)] + [(n, 7, True) for n in cols[3:]],
        # 60: 28 for the names; the widest gives way first, the earlier of two as wide
        60: [("proto", 5, False), ("source", 11, False), ("destination", 12, False)] + [(n, 7, True) for n in cols[3:]],
    }[width]
    assert got == want


def test_flow_columns_keep_headers_and_flow_counts():
    got = columns(("src", "flows", "pps"), [("198.18.0.1", "12", "1")], 12)
    assert [(c.label, c.width) for c in got] == [("src", 6), ("flows", 5), ("pps", 7)]  # no narrower than 6
    got = columns(("src", "flows", "pps"), [("198.18.0.1", "12", "12345678")], 30)
    assert [(c.label, c.width) for c in got] == [("src", 10), ("flows", 5), ("pps", 8)]  # it fits
    got = columns(("src", "flows", "pps"), [("198.18.0.1", "12", "12345678")], 20)
    assert [(c.label, c.width) for c in got] == [("src", 6), ("flows", 5), ("pps", 8)]  # 8 digits keep their 8
    # A number column gives up its spare column only if its header fits in 7 too.
    got = columns(("source", "1234567", "12345678"), [("x" * 40, "1", "1")], 40)
    assert [(c.label, c.width) for c in got] == [("source", 20), ("1234567", 7), ("12345678", 8)]
