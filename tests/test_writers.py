"""Golden output of the plain and JSON writers, with a fixed clock."""

import io
import json

from fakes import FakeSource, attachment

from bptraf.sampler import Sampler
from bptraf.writers import JsonWriter, PlainWriter

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def plain(attachments, sample) -> str:
    """What the plain writer prints: its start line(s), then one interval."""
    out = io.StringIO()
    w = PlainWriter(out, attachments)
    w.start()
    w(sample)
    return out.getvalue()


def one_sample(attachments, per):
    src = FakeSource(attachments, [(1_250_000_000, per)])
    return Sampler(src, wall=lambda: T0).sample()


def test_plain_single_interface_golden():
    a = (attachment("eth0"),)
    sample = one_sample(
        a,
        [
            {
                "all": (16_100, 24_212_500),
                "ipv4": (16_000, 24_200_000),
                "udp": (16_000, 24_200_000),
                "arp": (100, 12_500),
            }
        ],
    )
    assert plain(a, sample) == (
        "# eth0: XDP native mode, pass\n"
        "       all: 12.88 Kpps 155.0 Mbps\n"
        "      IPv4: 12.80 Kpps 154.9 Mbps\n"
        "       ARP: 80 pps 80.00 Kbps\n"
        "       UDP: 12.80 Kpps 154.9 Mbps\n"
        "\n"
    )


def test_plain_several_interfaces_and_idle_all_line():
    a = (attachment("eth0"), attachment("eth1", action="drop", mode="generic"))
    sample = one_sample(a, [{}, {"all": (2_000_000, 120_000_000)}])
    assert plain(a, sample) == (
        "# eth0: XDP native mode, pass\n"
        "# eth1: XDP generic mode, drop\n"
        "eth0:\n"
        "       all: 0 pps 0 bps\n"
        "eth1:\n"
        "       all: 1600 Kpps 768.0 Mbps\n"
        "\n"
    )


def test_json_golden():
    a = (attachment("eth0", action="drop", mode="generic"),)
    sample = one_sample(a, [{"all": (1000, 64_000)}])
    out = io.StringIO()
    JsonWriter(out, a)(sample)
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2026-11-18T11:06:40.000Z",
        "interface": "eth0",
        "interval": 1.25,
        "mode": "generic",
        "action": "drop",
        "counters": {"all": {"packets": 1000, "bytes": 64_000, "pps": 800.0, "bps": 409_600.0}},
    }


def test_json_lists_every_counter_with_zeros():
    a = (attachment("eth0"),)
    record = json.loads(_json(a, [{"all": (3, 180), "tcp": (3, 180), "ipv4": (3, 180)}]))
    assert list(record["counters"]) == [c.name for c in a[0].counters]
    assert record["counters"]["vlan"] == {"packets": 0, "bytes": 0, "pps": 0.0, "bps": 0.0}
    assert record["counters"]["tcp"]["packets"] == 3


def _json(a, per):
    out = io.StringIO()
    JsonWriter(out, a)(one_sample(a, per))
    return out.getvalue()


def test_plain_flows_after_the_block_in_stable_columns():
    from bptraf.flows import Flow, FlowRate
    from bptraf.sampler import Sample

    a = (attachment("eth0"),)
    base = one_sample(a, [{"all": (1250, 125_000), "ipv4": (1250, 125_000), "udp": (1250, 125_000)}])
    flows = (
        FlowRate(
            Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 5000, 500_000, 1, 2), 1000, 100_000, 800.0, 640_000.0
        ),
        FlowRate(Flow(0, 6, "fd00::2", 40000, "fd00::1", 22, 300, 30_000, 1, 2), 250, 25_000, 200.0, 160_000.0),
    )
    sample = Sample(base.time, base.rates, base.totals, (flows,), frozenset({"flows"}))
    lines = plain(a, sample).splitlines()
    assert lines[4:-1] == [
        " PROTO        pps        bps    PKTS    BYTES  SRC > DST",
        "   udp    800 pps 640.0 Kbps    5000 500.0 KB  198.18.0.2:4000 > 198.18.0.1:53",
        "   tcp    200 pps 160.0 Kbps     300 30.00 KB  [fd00::2]:40000 > [fd00::1]:22",
    ]
    assert all(len(line) <= 100 for line in lines)


def test_plain_vlan_line_golden():
    a = (attachment("eth0"),)
    sample = one_sample(
        a, [{"all": (2500, 200_000), "ipv6": (2500, 200_000), "icmpv6": (2500, 200_000), "vlan": (1250, 100_000)}]
    )
    assert plain(a, sample) == (
        "# eth0: XDP native mode, pass\n"
        "       all: 2000 pps 1280 Kbps\n"
        "      IPv6: 2000 pps 1280 Kbps\n"
        "    ICMPv6: 2000 pps 1280 Kbps\n"
        "      VLAN: 1000 pps 640.0 Kbps\n"
        "\n"
    )


def test_json_flow_records_golden():
    from bptraf.flows import Flow
    from bptraf.source import Feature

    a = (attachment("eth0"),)
    src = FakeSource(a, [(1_250_000_000, [{"all": (30, 30_000)}])])
    src.set_features(Feature.FLOWS)
    src.flow_script = [
        [
            Flow(0, 17, "198.18.0.2", 4000, "198.18.0.1", 53, 25, 25_000, 10, 20),
            Flow(0, 6, "fd00::2", 40000, "fd00::1", 22, 5, 5_000, 11, 21),
        ]
    ]
    out = io.StringIO()
    JsonWriter(out, a)(Sampler(src, wall=lambda: T0).sample())
    record = json.loads(out.getvalue())
    assert record["flows"] == [
        {"proto": "udp", "src": "198.18.0.2", "sport": 4000, "dst": "198.18.0.1", "dport": 53,
         "packets": 25, "bytes": 25_000, "pps": 20.0, "bps": 160_000.0, "total_packets": 25, "total_bytes": 25_000},
        {"proto": "tcp", "src": "fd00::2", "sport": 40000, "dst": "fd00::1", "dport": 22,
         "packets": 5, "bytes": 5_000, "pps": 4.0, "bps": 32_000.0, "total_packets": 5, "total_bytes": 5_000},
    ]  # fmt: skip


def _flows_sample(a, nflows, ts_ns=1_250_000_000, features=None):
    from bptraf.flows import Flow
    from bptraf.source import Feature

    src = FakeSource(a, [(ts_ns, [{"all": (nflows, nflows * 100)}])])
    src.set_features(features if features is not None else Feature.FLOWS)
    src.flow_script = [
        [Flow(0, 17, "198.18.0.2", 5000 + i, "198.18.0.1", 53, i + 1, 100 * (i + 1), 1, 2) for i in range(nflows)]
    ]
    return Sampler(src, wall=lambda: T0).sample()


def test_top_n_bounds_the_flows_written_and_defaults_to_ten():
    a = (attachment("eth0"),)
    sample = _flows_sample(a, 12)
    out = io.StringIO()
    JsonWriter(out, a)(sample)
    assert [f["sport"] for f in json.loads(out.getvalue())["flows"]] == [5011 - i for i in range(10)]
    out = io.StringIO()
    JsonWriter(out, a, top_n=3)(sample)
    assert len(json.loads(out.getvalue())["flows"]) == 3
    text = plain(a, sample).splitlines()
    assert len([line for line in text if line.startswith("   udp ")]) == 10
    out = io.StringIO()
    PlainWriter(out, a, top_n=2)(sample)
    assert len([line for line in out.getvalue().splitlines() if line.startswith("   udp ")]) == 2


def test_json_is_compact_and_keeps_three_decimals():
    """A 3-second interval with one packet: rates with long fractions are rounded to 3 places."""
    from bptraf.source import Feature

    a = (attachment("eth0"),)
    sample = _flows_sample(a, 1, ts_ns=3_000_000_001, features=Feature.FLOWS | Feature.SIZES)
    out = io.StringIO()
    JsonWriter(out, a)(sample)
    line = out.getvalue()
    assert ", " not in line and '": ' not in line  # one compact line per record
    record = json.loads(line)
    assert record["interval"] == 3.0
    assert record["counters"]["all"] == {"packets": 1, "bytes": 100, "pps": 0.333, "bps": 266.667}
    assert (record["flows"][0]["pps"], record["flows"][0]["bps"]) == (0.333, 266.667)
    assert record["sizes"] == dict.fromkeys(a[0].sizes, 0)


def test_json_interval_keeps_microseconds():
    a = (attachment("eth0"),)
    out = io.StringIO()
    JsonWriter(out, a)(Sampler(FakeSource(a, [(1_234_567_891, [{}])]), wall=lambda: T0).sample())
    assert json.loads(out.getvalue())["interval"] == 1.234568


def test_json_sizes_histogram_per_interval():
    from bptraf.source import Feature

    a = (attachment("eth0"),)
    src = FakeSource(a, [(10**9, [{"all": (6, 2000), "sizes": (1, 0, 2, 0, 0, 3, 0)}])])
    src.set_features(Feature.SIZES)
    out = io.StringIO()
    JsonWriter(out, a)(Sampler(src, wall=lambda: T0).sample())
    record = json.loads(out.getvalue())
    assert record["sizes"] == {
        "0-64": 1,
        "65-127": 0,
        "128-255": 2,
        "256-511": 0,
        "512-1023": 0,
        "1024-1518": 3,
        "1519+": 0,
    }
    assert "flows" not in record
