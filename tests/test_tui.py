"""The TUI driven by a scripted source: values, units, every key, pause/reset, banner, plots, flows."""

from __future__ import annotations

import math
from collections import namedtuple

import pytest
from fakes import FakeSource, attachment
from textual.widgets import TabbedContent

from bptraf.errors import BptrafError
from bptraf.flows import Flow
from bptraf.sampler import Sampler
from bptraf.source import Feature
from bptraf.tui.app import BptrafApp
from bptraf.tui.board import NicCounters
from bptraf.tui.help import HelpScreen
from bptraf.tui.sysinfo import LinkInfo, SystemInfo
from bptraf.tui.widgets.counters import CountersTable
from bptraf.tui.widgets.history import Plot
from bptraf.tui.widgets.rows import RowTable


class FakeInfo:
    def __init__(self, default_route=None):
        self.route = default_route

    def link(self, iface):
        return LinkInfo(10000, 1500, "02:00:00:00:00:01", ("198.18.0.1/30",))

    def nic(self, ifaces):
        return {}

    def prog_id(self, ifindex):
        return 42

    def default_route(self):
        return self.route


def script(n, ifaces=1, tx=False):
    """Per second, cumulative: UDP/IPv4 frames of 1512 bytes whose rate swings over time (so a plot of
    the wrong series shows), 100 ARP frames of 125 bytes; with tx, 300 IPv4 frames sent of 100 bytes."""
    out, tot = [], {}
    for i in range(n):
        k = 1000 * (16 + round(8 * math.sin(i / 2)))
        step = {"all": (k + 100, k * 1512 + 12_500), "ipv4": (k, k * 1512), "udp": (k, k * 1512), "arp": (100, 12_500)}
        for name, (p, b) in step.items():
            a, c = tot.get(name, (0, 0))
            tot[name] = (a + p, c + b)
        totals = dict(tot)
        if tx:  # what the host sent, in the fake's "tx" form
            totals["tx"] = {"all": (300 * (i + 1), 30_000 * (i + 1)), "ipv4": (300 * (i + 1), 30_000 * (i + 1))}
        out.append(((i + 1) * 1_000_000_000, [totals] * ifaces))
    return out


def make_app(n=10, ifaces=("eth0",), action="pass", count=None, tx=False, info=None):
    atts = tuple(attachment(name, action=action) for name in ifaces)
    src = FakeSource(atts, script(n, len(ifaces), tx))
    clock = iter(range(10**6)).__next__
    app = BptrafApp(
        src, 1.0, count=count, info=info or FakeInfo(), mono=lambda: 83.0, wall=lambda: float(clock()),
        autostart=False, min_frame_s=0,
    )  # fmt: skip
    return app, Sampler(src, wall=lambda: float(src.reads))


def feed(app, sampler, n=1, nic=True):
    for _ in range(n):
        s = sampler.sample()
        t = s.totals[0].ts_ns
        k = t // 1_000_000_000
        # The kernel saw 16 100 frames a second in and 3 out: RX and TX differ, so a swap shows.
        nics = {a.iface: NicCounters(t, 16_100 * k, 23_979_100 * k, 3 * k, 300 * k) for a in app.source.attachments}
        app.ingest(s, nics if nic else None)


def cell(app, row, col, panel=0):
    return app.query_one(f"#panel{panel} CountersTable", CountersTable).cell(row, col)


def text(app, selector):
    return str(app.query_one(selector).render())


async def test_values_and_units_after_ticks():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 3)
        await pilot.pause()
        last = app.boards[0].last
        assert (
            cell(app, "all", "pps") == "23.10 K" and last.pps[0] == 23_100
        )  # third step: 16 K + round(8 sin 1) K + 100
        assert cell(app, "arp", "pps") == "100"
        assert cell(app, "all", "packets") == "59.30 K"  # 16.1 K + 20.1 K + 23.1 K
        assert cell(app, "tcp", "pps") == "0"
        assert "cpu0" in text(app, "#panel0 PerCpu") and "11.55 Kpps" in text(app, "#panel0 PerCpu")
        header = text(app, "Header")
        assert "eth0 native pass prog 42" in header and "every 1s" in header and "2 CPUs" in header


async def test_kernel_panel_shows_rx_and_tx_apart():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        kernel = text(app, "#panel0 Kernel")
        assert "RX  16.10 Kpps" in kernel and "TX       3 pps" in kernel, kernel


def test_system_info_maps_psutil_counters_the_right_way_round():
    io = namedtuple("io", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout")
    info = SystemInfo(counters=lambda: {"eth0": io(1, 2, 3, 4, 5, 6, 7, 8)}, mono=lambda: 9)
    assert info.nic(("eth0", "gone0")) == {
        "eth0": NicCounters(9, rx_packets=4, rx_bytes=2, tx_packets=3, tx_bytes=1, rx_errors=5, rx_drops=7,
                            tx_errors=6, tx_drops=8)
    }  # fmt: skip


async def test_tx_is_shown_beside_rx_when_counted():
    app, sampler = make_app(tx=True)
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one(CountersTable)
        assert [c.label for c in table.columns][:5] == ["counter", "RX pps", "RX bps", "TX pps", "TX bps"]
        assert cell(app, "all", "TX pps") == "300" and cell(app, "all", "TX bps") == "240.0 K"
        assert cell(app, "udp", "TX pps") == "0" and cell(app, "all", "RX pps") != "300"


async def test_no_tx_columns_without_tx():
    app, sampler = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert "TX pps" not in [c.label for c in app.query_one(CountersTable).columns]


async def test_pause_freezes_the_screen_but_counting_goes_on():
    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        assert cell(app, "all", "packets") == "16.10 K"
        await pilot.press("p")
        assert app.paused and "PAUSED" in text(app, "Header")
        feed(app, sampler, 2)
        await pilot.pause()
        assert cell(app, "all", "packets") == "16.10 K"  # frozen
        assert app.boards[0].packets[0] == 16_100 + 20_100 + 23_100  # still counted
        await pilot.press("space")
        await pilot.pause()
        assert not app.paused and cell(app, "all", "packets") == "59.30 K"


async def test_reset_clears_the_display_only():
    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert cell(app, "all", "packets") != "0"
        await pilot.press("r")
        assert cell(app, "all", "packets") == "0" and cell(app, "all", "peak pps") == "0"
        feed(app, sampler, 1)
        await pilot.pause()
        assert cell(app, "all", "packets") == "23.10 K"  # a full interval: the maps were never touched


async def test_interval_keys_step_through_the_ladder_and_wake_the_worker():
    app, _ = make_app()
    async with app.run_test() as pilot:
        assert not app.feed.woken()
        await pilot.press("plus")
        assert app.interval == 2.0 and "every 2s" in text(app, "Header")
        assert app.feed.woken()  # the worker restarts its deadline now, not after the old interval
        app.feed._wake.clear()
        await pilot.press("minus", "minus", "minus", "minus", "minus", "minus")
        assert app.interval == 0.1 and app.feed.woken()
        await pilot.press("equals_sign")
        assert app.interval == 0.2


async def test_interval_key_shortens_the_running_wait():
    """Through the real worker: at -i 60 a `-` press must bring the next sample well before 60 s."""
    atts = (attachment("eth0"),)
    src = FakeSource(atts, script(50))
    app = BptrafApp(src, 60.0, count=1, info=FakeInfo())
    async with app.run_test() as pilot:
        await pilot.press("minus", "minus", "minus", "minus", "minus", "minus", "minus", "minus")
        assert app.interval == 0.1
        await wait_until_stopped(app, pilot)
    assert app.samples == 1


async def test_b_switches_bits_and_bytes():
    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert cell(app, "all", "bps") == "242.0 M"
        await pilot.press("b")
        assert cell(app, "all", "B/s") == "30.25 M"
        await pilot.press("b")
        assert cell(app, "all", "bps") == "242.0 M"


async def test_h_hides_and_shows_idle_rows():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one(CountersTable)
        assert table.row_count == len(app.source.attachments[0].counters)
        await pilot.press("h")
        assert [r[0] for r in table.rows] == ["all", "IPv4", "ARP", "UDP"]
        await pilot.press("h")
        assert table.row_count == len(app.source.attachments[0].counters)


def series_values(app, cls):
    return list(app.query_one(f"#panel0 .{cls}", Plot).series.values)


async def test_arrows_pick_the_plotted_row_from_the_first_frame():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 4)
        await pilot.pause()
        board = app.boards[0]
        assert series_values(app, "sel-pps") == list(board.pps_history[1])  # IPv4 at first
        await pilot.press("down", "down")  # no Tab, no click first
        assert app.query_one(CountersTable).selected() == "arp"
        assert series_values(app, "sel-pps") == [100.0] * 4
        assert series_values(app, "all-pps") == list(board.pps_history[0])
        assert series_values(app, "sel-pps") != series_values(app, "all-pps")
        await pilot.press("up")
        assert series_values(app, "sel-pps") == [0.0] * 4  # IPv6


async def test_plots_have_axes_and_say_no_data_yet():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        plot = app.query_one("#panel0 .all-pps", Plot)
        assert "no data yet" in plot.text()
        feed(app, sampler, 3)
        await pilot.pause()
        lines = plot.text().splitlines()
        assert lines[0].startswith("all pps  23.10 Kpps") and "last 5 min" in lines[0]
        assert lines[1].lstrip().startswith("25.00 Kpps┤") and lines[-2].lstrip().startswith("0┤")
        assert "-300s" in lines[-1] and lines[-1].endswith("now")
        bps = app.query_one("#panel0 .all-bps", Plot).text().splitlines()
        assert bps[0].startswith("all bps") and "Mbps┤" in bps[1]


async def test_tab_moves_focus_and_digits_switch_interfaces():
    app, _ = make_app(ifaces=("eth0", "eth1"))
    async with app.run_test() as pilot:
        tabs = app.query_one(TabbedContent)
        assert tabs.active == "if0"
        await pilot.press("i")
        assert tabs.active == "if1"
        await pilot.press("1")
        assert tabs.active == "if0"
        await pilot.press("2")
        assert tabs.active == "if1"
        await pilot.press("9")  # no ninth interface: nothing happens
        assert tabs.active == "if1"


async def test_help_lists_every_binding():
    app, _ = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [k for k, _ in app.screen.entries]
        for key in ("?", "q", "Ctrl+C", "p, space", "f", "z", "h", "b", "r", "+", "-", "s", "g", "n", "Tab", "i"):
            assert key in keys
        assert "1-9" in keys and keys.count("1-9") == 1
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_keys(key):
    app, _ = make_app()
    async with app.run_test() as pilot:
        assert app.is_running
        await pilot.press(key)
        await pilot.pause()
        assert not app.is_running


async def test_drop_mode_banner_names_the_interface_and_the_default_route():
    app, _ = make_app(action="drop", info=FakeInfo(default_route="eth0"))
    async with app.run_test():
        banner = text(app, "#banner")
        assert banner.startswith("DROP MODE: every packet arriving on eth0 is being dropped")
        assert "eth0 holds the default route" in banner
        assert "DROP" in text(app, "Header")
    app, _ = make_app(action="drop", info=FakeInfo(default_route="eth9"))
    async with app.run_test():
        assert "default route" not in text(app, "#banner")


async def test_count_ends_the_app():
    app, sampler = make_app(count=2)
    async with app.run_test() as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        assert app.is_running
        feed(app, sampler, 1)
        await pilot.pause()
        assert not app.is_running


async def wait_until_stopped(app, pilot, bound=200):
    for _ in range(bound):
        if not app.is_running:
            return
        await pilot.pause(0.05)


async def until(pilot, done, bound=200, step=0.02):
    """Let the app run until done() holds (a worker's result, a timer's tick); fails when it never does."""
    for _ in range(bound):
        if done():
            return
        await pilot.pause(step)
    raise AssertionError("the condition never held")


def clocked_app(start=100.0):
    """make_app() on a clock the test moves (now[0]), started at `start`: (app, sampler, now)."""
    now = [start]
    app, sampler = make_app()
    app._mono = lambda: now[0]
    app.started = start
    return app, sampler, now


async def test_sampling_worker_reads_the_source_off_the_ui_loop():
    src = FakeSource((attachment("eth0"),), script(50))
    app = BptrafApp(src, 0.1, count=3, info=FakeInfo())
    async with app.run_test() as pilot:
        await wait_until_stopped(app, pilot)
    assert app.samples == 3 and src.reads == 3


async def test_a_vanished_interface_ends_the_app_with_an_error():
    src = FakeSource((attachment("veth9"),), script(5))
    src.missing = ("veth9",)
    app = BptrafApp(src, 0.1, info=FakeInfo())
    async with app.run_test() as pilot:
        await wait_until_stopped(app, pilot)
    assert app.error is not None and "veth9 disappeared" in str(app.error)
    assert app.samples == 1  # the last sample was shown first


@pytest.mark.parametrize(
    "key, error, said",
    [
        ("f", BptrafError("the kernel refused the flows program"), "the kernel refused the flows program"),
        ("z", OSError("no memory for the map"), "switching features failed: no memory for the map"),
    ],
    ids=["refused", "failed otherwise"],
)
async def test_a_feature_switch_that_fails_ends_the_app_with_one_line(key, error, said):
    app, _ = make_app()

    def fail(features):
        raise error

    app.source.set_features = fail
    async with app.run_test() as pilot:
        await pilot.press(key)
        await wait_until_stopped(app, pilot)
    assert str(app.error) == said


def varying(k):
    """Three flows whose orders by bps, by pps and by total bytes all differ."""
    return [
        # big packets, few of them: first by bps
        Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 100 * k, 150_000 * k, 1, 2),
        # many small packets: first by pps
        Flow(0, 6, "198.18.0.3", 33000, "198.18.0.1", 443, 1000 * k, 64_000 * k, 1, 2),
        # long-lived, now slow: first by total bytes
        Flow(0, 17, "198.18.0.4", 5000, "198.18.0.9", 53, 10 * k + 5000, 1000 * k + 10_000_000, 1, 2),
    ]


def flow_rows(app):
    return [list(r) for r in app.query_one("#panel0 .flows RowTable", RowTable).rows]


async def flows_app(pilot_size=(120, 60)):
    app, sampler = make_app()
    app.source.flow_script = [varying(k) for k in range(1, 10)]
    app.source.set_features(Feature.FLOWS)
    return app, sampler


async def test_flows_table_sorts_by_each_key():
    app, sampler = await flows_app()
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert [r[1] for r in flow_rows(app)] == ["198.18.0.2:4000", "198.18.0.3:33000", "198.18.0.4:5000"]
        assert flow_rows(app)[0][3:] == ["100", "1200 K", "300.0 K"]  # pps, bps, total bytes
        await pilot.press("b")
        assert flow_rows(app)[0][3:] == ["100", "150.0 K", "300.0 K"]  # B/s, like the counters
        await pilot.press("b")
        await pilot.press("s")
        assert [r[1] for r in flow_rows(app)] == ["198.18.0.3:33000", "198.18.0.2:4000", "198.18.0.4:5000"]
        await pilot.press("s")
        assert [r[1] for r in flow_rows(app)] == ["198.18.0.4:5000", "198.18.0.2:4000", "198.18.0.3:33000"]


async def test_flow_groups_show_totals_since_first_seen():
    app, sampler = await flows_app()
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 2)
        await pilot.press("g", "g")  # by destination host
        rows = flow_rows(app)
        assert rows[0][:2] == ["198.18.0.1", "2"] and rows[0][4] == "428.0 K"  # 2 x (150 K + 64 K), not one interval's
        await pilot.press("g")
        assert [r[0] for r in flow_rows(app)] == ["udp/53", "tcp/443"]


async def test_flows_key_switches_the_source_and_the_panel_takes_no_space_when_off():
    app, sampler = make_app()
    app.source.flow_script = [varying(k) for k in range(1, 10)]
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        flows = app.query_one("#panel0 .flows")
        assert not flows.display
        await pilot.press("f")
        await pilot.wait_for_scheduled_animations()
        await until(pilot, lambda: Feature.FLOWS in app.source.features, bound=100, step=0.01)
        assert Feature.FLOWS in app.source.features
        feed(app, sampler, 1)
        await pilot.pause()
        assert flows.display and len(flow_rows(app)) == 3


async def test_flows_table_scrolls_by_keyboard():
    app, sampler = make_app()
    app.source.flow_script = [
        [
            Flow(0, 17, f"198.18.1.{j}", 1000 + j, "198.18.0.1", 53, k * (j + 1), k * 100 * (j + 1), 1, 2)
            for j in range(40)
        ]
        for k in range(1, 5)
    ]
    app.source.set_features(Feature.FLOWS)
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one("#panel0 .flows RowTable", RowTable)
        assert table.row_count == 40 and table.size.height < 40
        assert "1-" in table.render_line(0).text and "/40" in table.render_line(0).text  # which rows are shown
        await pilot.press("tab")
        assert table.has_focus
        await pilot.press("end")
        assert table.cursor == 39 and table.top > 0
        assert table.render_line(table.size.height - 1).text.startswith(" udp    198.18.1.0:1000")  # the smallest
        await pilot.press("home")
        assert table.cursor == 0 and table.top == 0
        await pilot.press("pagedown")
        assert table.cursor == table.size.height - 1
        await pilot.press("down", "up", "up")
        assert table.cursor == table.size.height - 2


async def test_addresses_and_names_are_text_not_markup():
    app, sampler = make_app(ifaces=("veth[b]0",))
    app.source.flow_script = [[Flow(0, 58, "fe80::1", 0, "fe80::2", 0, 5 * k, 500 * k, 1, 2)] for k in range(1, 5)]
    app.source.set_features(Feature.FLOWS)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert flow_rows(app)[0][1:3] == ["[fe80::1]:0", "[fe80::2]:0"]
        assert "veth[b]0" in text(app, "Header") and "veth[b]0" in str(app.query_one("#panel0 .link").render())


async def test_size_histogram():
    app, sampler = make_app()
    app.source.script = [
        ((i + 1) * 1_000_000_000, [{"all": (10 * (i + 1), 1000 * (i + 1)), "sizes": (4 * (i + 1), 0, 6 * (i + 1), 0, 0, 0, 0)}])
        for i in range(5)
    ]  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 1, nic=False)
        await pilot.pause()
        sizes = app.query_one("#panel0 Sizes")
        assert not sizes.display  # off: no space taken
        await pilot.press("z")
        await until(pilot, lambda: Feature.SIZES in app.source.features, bound=100, step=0.01)
        feed(app, sampler, 1, nic=False)
        await pilot.pause()
        lines = str(sizes.render()).splitlines()
        assert sizes.display and lines[1].split() == ["≤64", "≤127", "≤255", "≤511", "≤1023", "≤1518", "1519+"]
        assert lines[2].split() == ["▅", "40%", "0%", "█", "60%", "0%", "0%", "0%", "0%"]


async def test_names_key_resolves_hosts_off_the_ui_loop():
    import threading

    from bptraf.names import Resolver

    release = threading.Event()

    def slow_lookup(addr):
        release.wait(5)  # a DNS server that takes its time
        return {"198.18.0.2": "sender[b].test"}.get(addr)

    app, sampler = await flows_app()
    app._resolver_factory = lambda: Resolver(slow_lookup)
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 2)
        await pilot.press("n")
        assert flow_rows(app)[0][1] == "198.18.0.2:4000"  # shown at once, unresolved
        release.set()
        for _ in range(100):
            feed(app, sampler, 1)
            await pilot.pause(0.02)
            if flow_rows(app)[0][1] != "198.18.0.2:4000":
                break
        assert flow_rows(app)[0][1] == "sender[b].test:4000"  # a name is text too
        assert flow_rows(app)[0][2] == "198.18.0.1:53"  # no name: the address stays
        await pilot.press("n")
        assert app.resolver is None


async def test_a_long_trust_line_gives_way_before_it_is_cut():
    app, sampler = make_app(ifaces=("veth-a-15-chars",), action="drop")
    async with app.run_test(size=(80, 24)) as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        header = app.query_one("Header").render()
        assert header.cell_len <= 78
        assert header.plain.startswith("veth-a-15-chars native  DROP  prog 42│every 1s│up") and header.plain.endswith(
            "2 CPUs"
        )


async def test_top_caps_the_flows_table_when_given():
    src = FakeSource((attachment("eth0"),), script(10))
    src.flow_script = [varying(k) for k in range(1, 10)]
    src.set_features(Feature.FLOWS)
    app = BptrafApp(src, 1.0, info=FakeInfo(), autostart=False, min_frame_s=0, top=2)
    sampler = Sampler(src)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert [r[1] for r in flow_rows(app)] == ["198.18.0.2:4000", "198.18.0.3:33000"]


def test_flow_columns_fit_80_columns_and_keep_the_ports():
    """A link-local IPv6 flow once widened the address columns past 80 and pushed `bytes` off screen."""
    from bptraf.tui.widgets.flows import columns
    from bptraf.tui.widgets.rows import line

    cols = ("proto", "source", "destination", "pps", "bps", "bytes")
    found = [
        ("icmpv6", "[fe80::5c72:d9ff:fefd:f413]:0", "[ff02::16]:0", "0", "0", "90"),
        ("udp", "[2001:db8:1234:5678:9abc:def0:1234:5678]:40015", "198.18.5.1:5015", "117", "975.8 K", "36.2 K"),
    ]
    row = line(found[1], columns(cols, found, 80))
    assert len(row) <= 80
    assert row.rstrip().endswith("975.8 K   36.2 K")  # numbers give up their spare column first
    assert ":40015" in row and "…" in row  # cut in the middle: the port stays
    assert len(line(found[0], columns(cols, found, 0))) > 80  # unbounded, it would not fit


async def test_a_full_flow_table_is_said_once_and_its_evictions_shown():
    from dataclasses import replace

    from bptraf.tui.widgets.flows import FlowsTitle

    app, sampler = await flows_app()
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        title = app.query_one("#panel0 .flows FlowsTitle", FlowsTitle)
        assert "table full" not in title.text.plain and not app._notifications
        for evicted in (7, 5):
            app.ingest(replace(sampler.sample(), flows_evicted=evicted, flows_full=True))
        await pilot.pause()
        assert title.text.plain.endswith("table full: 12 evicted")
        said = [(n.message, n.severity) for n in app._notifications]
        assert said == [("the flow table is full and evicting: per-flow totals undercount", "warning")]
