"""The TUI driven by a scripted source: values, units, every key, pause/reset, the drop banner."""

from __future__ import annotations

import pytest
from fakes import FakeSource, attachment
from textual.widgets import DataTable, TabbedContent

from bptraf.sampler import Sampler
from bptraf.source import Feature
from bptraf.tui.app import BptrafApp, HelpScreen
from bptraf.tui.board import NicCounters
from bptraf.tui.sysinfo import LinkInfo


class FakeInfo:
    def link(self, iface):
        return LinkInfo(10000, 1500, "02:00:00:00:00:01", ("198.18.0.1/30",))

    def nic(self, ifaces):
        return {}


def script(n, ifaces=1):
    """Per second: 16 000 UDP/IPv4 frames of 1512 bytes and 100 ARP frames of 125 bytes, cumulative."""
    step = {
        "all": (16_100, 24_204_500),
        "ipv4": (16_000, 24_192_000),
        "udp": (16_000, 24_192_000),
        "arp": (100, 12_500),
    }
    return [
        ((i + 1) * 1_000_000_000, [{k: (p * (i + 1), b * (i + 1)) for k, (p, b) in step.items()}] * ifaces)
        for i in range(n)
    ]


def make_app(n=10, ifaces=("eth0",), action="pass", count=None):
    atts = tuple(attachment(name, action=action) for name in ifaces)
    src = FakeSource(atts, script(n, len(ifaces)))
    app = BptrafApp(
        src, 1.0, count=count, info=FakeInfo(), mono=lambda: 83.0, wall=lambda: 0.0, autostart=False, min_frame_s=0
    )
    return app, Sampler(src)


def feed(app, sampler, n=1, nic=True):
    for _ in range(n):
        s = sampler.sample()
        t = s.totals[0].ts_ns
        k = t // 1_000_000_000
        nics = {a.iface: NicCounters(t, 16_100 * k, 23_979_100 * k, 3 * k, 300 * k) for a in app.source.attachments}
        app.ingest(s, nics if nic else None)


def cell(app, row, col, panel=0):
    return str(app.query_one(f"#panel{panel} DataTable", DataTable).get_cell(row, col))


def text(app, selector):
    return str(app.query_one(selector).render())


async def test_values_and_units_after_ticks():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 3)
        await pilot.pause()
        assert cell(app, "all", "pps") == "16.10 K"
        assert cell(app, "all", "bps") == "193.6 M"
        assert cell(app, "udp", "share") == "99.4%"
        assert cell(app, "arp", "pps") == "100"
        assert cell(app, "all", "packets") == "48.30 K"
        assert cell(app, "all", "bytes") == "72.61 M"
        assert cell(app, "all", "avg pps") == "16.10 K"
        assert cell(app, "tcp", "pps") == "0"
        assert "cpu0" in text(app, "#panel0 .cpus") and "8050 pps" in text(app, "#panel0 .cpus")
        kernel = text(app, "#panel0 .kernel")
        assert "RX  16.10 Kpps" in kernel and "XDP / kernel RX: 100.0%" in kernel
        assert "eth0 native pass" in text(app, "#info") and "2 CPUs" in text(app, "#info")


async def test_pause_freezes_the_screen_but_counting_goes_on():
    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 1)
        await pilot.press("p")
        assert app.paused and "PAUSED" in text(app, "#info")
        feed(app, sampler, 2)
        await pilot.pause()
        assert cell(app, "all", "packets") == "16.10 K"  # frozen
        assert app.boards[0].packets[0] == 48_300  # still counted
        await pilot.press("space")
        assert not app.paused
        await pilot.pause()
        assert cell(app, "all", "packets") == "48.30 K"


async def test_reset_clears_the_display_only():
    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 2)
        await pilot.press("r")
        assert cell(app, "all", "packets") == "0" and cell(app, "all", "peak pps") == "0"
        feed(app, sampler, 1)
        await pilot.pause()
        # The next interval is a full one: the maps were never touched.
        assert cell(app, "all", "packets") == "16.10 K"
        assert app.boards[0].last.packets[0] == 16_100


async def test_interval_keys_step_through_the_ladder():
    app, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("plus")
        assert app.interval == 2.0 and "every 2s" in text(app, "#info")
        await pilot.press("minus", "minus", "minus", "minus", "minus", "minus")
        assert app.interval == 0.1
        await pilot.press("equals_sign")
        assert app.interval == 0.2


async def test_b_switches_bits_and_bytes():
    app, sampler = make_app()
    async with app.run_test() as pilot:
        feed(app, sampler, 2)
        await pilot.press("b")
        assert cell(app, "all", "bps") == "24.20 M"
        assert str(app.query_one(DataTable).columns["bps"].label) == "B/s"
        await pilot.press("b")
        assert cell(app, "all", "bps") == "193.6 M"


async def test_arrows_pick_the_plotted_row():
    app, sampler = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, sampler, 2)
        app.query_one(DataTable).focus()
        assert text(app, "#panel0 .sel-title").startswith("IPv4  16.00 Kpps")  # the first L3 class
        await pilot.press("down", "down")
        assert text(app, "#panel0 .sel-title").startswith("ARP  100 pps")
        await pilot.press("up")
        assert text(app, "#panel0 .sel-title").startswith("IPv6  0 pps")


async def test_tab_and_digits_switch_interfaces():
    app, sampler = make_app(ifaces=("eth0", "eth1"))
    async with app.run_test() as pilot:
        tabs = app.query_one(TabbedContent)
        assert tabs.active == "if0"
        await pilot.press("tab")
        assert tabs.active == "if1"
        await pilot.press("tab")
        assert tabs.active == "if0"
        await pilot.press("2")
        assert tabs.active == "if1"
        await pilot.press("9")  # no ninth interface: nothing happens
        assert tabs.active == "if1"


async def test_help_opens_and_closes():
    app, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_keys(key):
    app, _ = make_app()
    async with app.run_test() as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert not app.is_running


async def test_drop_mode_shows_the_banner():
    app, _ = make_app(action="drop")
    async with app.run_test():
        assert text(app, "#banner") == "DROP MODE: every packet arriving on eth0 is being dropped"
        assert "DROP" in text(app, "#info")


async def test_count_ends_the_app():
    app, sampler = make_app(count=2)
    async with app.run_test() as pilot:
        feed(app, sampler, 2)
        await pilot.pause()
        assert not app.is_running


async def test_sampling_worker_reads_the_source_off_the_ui_loop():
    atts = (attachment("eth0"),)
    src = FakeSource(atts, script(50))
    app = BptrafApp(src, 0.1, count=3, info=FakeInfo())
    async with app.run_test() as pilot:
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert app.samples == 3 and src.reads == 3


async def test_a_vanished_interface_ends_the_app_with_an_error():
    atts = (attachment("veth9"),)
    src = FakeSource(atts, script(5))
    src.missing = ("veth9",)
    app = BptrafApp(src, 0.1, info=FakeInfo())
    async with app.run_test() as pilot:
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    assert app.error is not None and "veth9 disappeared" in str(app.error)
    assert app.samples == 1  # the last sample was shown first


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_snapshot(snap_compare, size):
    app, sampler = make_app()

    async def run_before(pilot):
        feed(app, sampler, 5)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_snapshot_drop_small(snap_compare):
    app, sampler = make_app(action="drop")

    async def run_before(pilot):
        feed(app, sampler, 3)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(40, 10), run_before=run_before)


def _flows(k):
    """Two flows growing by k steps: a big UDP one and a small TCP one from another host."""
    from bptraf.flows import Flow

    return [
        Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 1000 * k, 1_000_000 * k, 1, 2),
        Flow(0, 6, "198.18.0.3", 33000, "198.18.0.1", 443, 10 * k, 5_000 * k, 1, 2),
    ]


async def test_flows_key_table_sort_and_group():
    app, sampler = make_app()
    app.source.flow_script = [_flows(k) for k in range(1, 10)]
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 1)
        await pilot.pause()
        assert "off: press f" in text(app, "#panel0 .flows-title")
        await pilot.press("f")
        await pilot.pause(0.2)
        assert Feature.FLOWS in app.source.features
        feed(app, sampler, 2)
        await pilot.pause()
        table = app.query_one("#panel0 .flows", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows == [
            # pps and bps of the last interval, then total bytes since the flow was first seen
            ["udp", "198.18.0.2:4000", "198.18.0.1:53", "1000", "8000 K", "2000 K"],
            ["tcp", "198.18.0.3:33000", "198.18.0.1:443", "10", "40.00 K", "10.00 K"],
        ]
        await pilot.press("g")
        await pilot.pause()
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[:2] for r in rows] == [["198.18.0.2", "1"], ["198.18.0.3", "1"]]
        await pilot.press("g", "g")
        await pilot.pause()
        assert [str(table.get_row_at(i)[0]) for i in range(table.row_count)] == ["udp/53", "tcp/443"]
        await pilot.press("s")
        assert app.flow_sort == "pps"
        await pilot.press("f")
        await pilot.pause(0.2)
        assert Feature.FLOWS not in app.source.features


async def test_flows_key_in_drop_mode_warns():
    app, _ = make_app(action="drop")
    async with app.run_test() as pilot:
        await pilot.press("f")
        assert Feature.FLOWS not in app.source.features


async def test_size_histogram_bars():
    app, sampler = make_app()
    steps = [
        (
            (i + 1) * 1_000_000_000,
            [{"all": (10 * (i + 1), 1000 * (i + 1)), "sizes": (4 * (i + 1), 0, 6 * (i + 1), 0, 0, 0, 0)}],
        )
        for i in range(5)
    ]
    app.source.script = steps
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 1, nic=False)
        await pilot.pause()
        assert text(app, "#panel0 .sizes") == "frame sizes off: press z"
        await pilot.press("z")
        await pilot.pause(0.2)
        assert Feature.SIZES in app.source.features
        feed(app, sampler, 1, nic=False)
        await pilot.pause()
        bars = text(app, "#panel0 .sizes").splitlines()
        assert bars[0] == "frame sizes (packets)"
        assert bars[1].startswith("0-64") and bars[1].endswith(" 4")  # the second interval's 4
        assert bars[3].startswith("128-255") and bars[3].endswith(" 6")
        assert bars[7].startswith("1519+") and bars[7].endswith(" 0")


async def test_names_key_resolves_hosts_off_the_ui_loop():
    import threading

    from bptraf.names import Resolver

    release = threading.Event()

    def slow_lookup(addr):
        release.wait(5)  # a DNS server that takes its time
        return {"198.18.0.2": "sender.test"}.get(addr)

    app, sampler = make_app()
    app._resolver_factory = lambda: Resolver(slow_lookup)
    app.source.flow_script = [_flows(k) for k in range(1, 10)]
    app.source.set_features(Feature.FLOWS)
    async with app.run_test(size=(120, 60)) as pilot:
        feed(app, sampler, 1)
        await pilot.press("n")
        await pilot.pause()
        table = app.query_one("#panel0 .flows", DataTable)
        assert str(table.get_row_at(0)[1]) == "198.18.0.2:4000"  # shown at once, unresolved
        release.set()
        for _ in range(50):
            await pilot.pause(0.05)
            feed(app, sampler, 1)
            await pilot.pause()
            if str(table.get_row_at(0)[1]) != "198.18.0.2:4000":
                break
        assert str(table.get_row_at(0)[1]) == "sender.test:4000"
        assert str(table.get_row_at(0)[2]) == "198.18.0.1:53"  # no name: the address stays
        await pilot.press("n")
        assert app.resolver is None
