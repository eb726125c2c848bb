"""The exporter without root: listen addresses, the collector over a scripted source, the metric names."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from fakes import FakeSource, attachment
from scrape import OPENMETRICS, get, names, samples, scrape, value

from bptraf.counters import counting, size_bounds
from bptraf.errors import EXIT_RUNTIME, EXIT_USAGE, BptrafError
from bptraf.exporter import DEFAULT_PORT, Exporter, Listen, bind, parse_listen
from bptraf.exporter.metrics import SizeSum, advance, protocol
from bptraf.exporter.shared import Shared, SourceClosed
from bptraf.flows import Flow
from bptraf.source import Feature

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"

L3 = ("ipv4", "ipv6", "arp", "pppoe", "other")
L4 = ("tcp", "udp", "icmp", "icmpv6", "sctp", "other")


@pytest.mark.parametrize(
    "text, host, port",
    [
        ("9747", None, 9747),
        (":9747", None, 9747),
        ("127.0.0.1:9100", "127.0.0.1", 9100),
        ("[::1]:9100", "::1", 9100),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("65535", None, 65535),
    ],
)
def test_listen_forms(text, host, port):
    assert parse_listen(text) == Listen(text, host, port)


@pytest.mark.parametrize(
    "text, says",
    [
        ("65536", "out of range"),
        ("99999999", "out of range"),
        ("-1", "must be a number"),
        ("http", "must be a number"),
        ("localhost:9747", "not an IP address"),
        ("example.org:9747", "not an IP address"),
        ("::1:9747", "in brackets"),
        ("[::1]9747", "[ADDR]:PORT"),
        ("[127.0.0.1]:9747", "IPv4 one as ADDR:PORT"),
        ("127.0.0.1:", "must be a number"),
        ("1.2.3.4.5:80", "not an IP address"),
    ],
)
def test_bad_listen_is_a_usage_error(text, says):
    with pytest.raises(BptrafError) as err:
        parse_listen(text)
    assert err.value.exit_code == EXIT_USAGE
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_taken_port_exits_1_and_a_foreign_address_2():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(BptrafError, match=f"port {port} is already in use") as err:
            bind(parse_listen(f"127.0.0.1:{port}"))
        assert err.value.exit_code == EXIT_RUNTIME
    finally:
        taken.close()
    with pytest.raises(BptrafError, match="not an address of this host") as err:
        bind(parse_listen("198.19.255.254:0"))  # benchmarking space, never configured here
    assert err.value.exit_code == EXIT_USAGE


def test_every_address_takes_ipv4_too():
    sock = bind(parse_listen("0"))
    try:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        sock.close()
    assert 1024 <= DEFAULT_PORT <= 65535


# -- the collector ---------------------------------------------------------------------------------

IFACES = (attachment("eth0"), attachment("eth1"))
TOTALS = {
    "all": (100, 9000),
    "ipv4": (60, 6000),
    "ipv6": (30, 2500),
    "arp": (6, 360),
    "l3_other": (4, 140),
    "tcp": (40, 4000),
    "udp": (35, 3500),
    "icmp": (5, 400),
    "icmpv6": (4, 300),
    "sctp": (2, 100),
    "l4_other": (4, 200),
    "vlan": (7, 700),
    "sizes": (10, 20, 30, 40, 0, 0, 0),
}


def fake(script, features=Feature.SIZES, action="pass", ncpus=2):
    ifaces = tuple(attachment(a.iface, action) for a in IFACES)
    src = FakeSource(ifaces, script, ncpus)
    src.features = features
    return src


@pytest.fixture
def served():
    """start(source, **kw) -> port; every exporter started is stopped."""
    started = []

    def start(source, **kw):
        ex = Exporter(parse_listen("127.0.0.1:0"))
        started.append(ex)
        ex.start(source, **kw)
        return ex.socket.getsockname()[1]

    yield start
    for ex in started:
        ex.stop()


def test_names_and_values(served):
    port = served(fake([(1, [TOTALS, {"all": (5, 300), "arp": (5, 300)}])]), program_id=lambda a: 40 + a.ifindex)
    found = scrape(port)
    assert value(found, "bptraf_receive_packets_total", interface="eth0") == 100
    assert value(found, "bptraf_receive_bytes_total", interface="eth1") == 300
    for unit in ("packets", "bytes"):
        i = 0 if unit == "packets" else 1
        l3 = {p: value(found, f"bptraf_receive_l3_{unit}_total", interface="eth0", protocol=p) for p in L3}
        l4 = {p: value(found, f"bptraf_receive_l4_{unit}_total", interface="eth0", protocol=p) for p in L4}
        assert sum(l3.values()) == TOTALS["all"][i]
        assert sum(l4.values()) == TOTALS["ipv4"][i] + TOTALS["ipv6"][i]
        assert l3["other"] == TOTALS["l3_other"][i] and l4["other"] == TOTALS["l4_other"][i]
        assert value(found, f"bptraf_receive_vlan_{unit}_total", interface="eth0") == TOTALS["vlan"][i]
    cpus = [value(found, "bptraf_cpu_receive_packets_total", interface="eth0", cpu=str(c)) for c in range(2)]
    assert sum(cpus) == 100
    assert value(found, "bptraf_xdp_info", interface="eth1", mode="native", action="pass", program_id="42") == 1
    assert ("bptraf_build_info", frozenset({("version", __import__("bptraf").__version__)})) in found
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"} <= names(found)
    assert not any(n.startswith("bptraf_transmit") or "flow" in n for n in names(found))


def test_histogram_buckets_come_from_counters_h(served):
    port = served(fake([(1, [TOTALS, TOTALS])]))
    found = scrape(port)
    les = [*(f"{float(b)}" for b in size_bounds()), "+Inf"]
    buckets = [value(found, "bptraf_receive_frame_size_bytes_bucket", interface="eth0", le=le) for le in les]
    assert buckets == [10, 30, 60, 100, 100, 100, 100]
    assert value(found, "bptraf_receive_frame_size_bytes_count", interface="eth0") == 100
    # Sizes on since attach: every byte received is in a bucket.
    assert value(found, "bptraf_receive_frame_size_bytes_sum", interface="eth0") == 9000


def test_no_histogram_while_sizes_are_off_and_only_totals_with_d(served):
    assert "bptraf_receive_frame_size_bytes_count" not in names(scrape(served(fake([(1, [TOTALS] * 2)], Feature.NONE))))
    found = scrape(served(fake([(1, [{"all": (3, 180)}] * 2)], Feature.NONE, action="drop")))
    assert value(found, "bptraf_xdp_info", interface="eth0", mode="native", action="drop", program_id="") == 1
    assert value(found, "bptraf_receive_packets_total", interface="eth0") == 3
    assert not [n for n in names(found) if n.startswith("bptraf_receive_l")]


def test_transmit_uses_the_same_families(served):
    tx = {"all": (50, 4000), "ipv4": (50, 4000), "udp": (50, 4000)}
    rx = {**TOTALS, "tx": tx, "tx_sizes": (0, 50, 0, 0, 0, 0, 0)}
    found = scrape(served(fake([(1, [rx, rx])])))
    rx_names = {n for n in names(found) if n.startswith("bptraf_receive_")}
    tx_names = {n for n in names(found) if n.startswith("bptraf_transmit_")}
    assert tx_names == {n.replace("receive", "transmit") for n in rx_names}
    assert value(found, "bptraf_transmit_packets_total", interface="eth1") == 50
    assert value(found, "bptraf_transmit_l4_bytes_total", interface="eth0", protocol="udp") == 4000
    assert value(found, "bptraf_transmit_frame_size_bytes_bucket", interface="eth0", le="64.0") == 0
    assert value(found, "bptraf_transmit_frame_size_bytes_bucket", interface="eth0", le="127.0") == 50
    assert value(found, "bptraf_transmit_frame_size_bytes_sum", interface="eth0") == 4000
    assert value(found, "bptraf_receive_packets_total", interface="eth0") == 100


@pytest.mark.parametrize(
    "prev, now, expected",
    [
        # sizes on throughout: the interval's bytes, exactly
        (SizeSum(10, 1000, 10, True, 1000), (20, 3000, 20, True), 3000),
        # switched on half-way through 10 packets: half of the interval's bytes
        (SizeSum(10, 1000, 0, False, 0), (20, 3000, 5, True), 1000),
        # switched off: only the bucketed part
        (SizeSum(10, 1000, 10, True, 1000), (20, 2000, 12, False), 1200),
        # off throughout, nothing bucketed
        (SizeSum(10, 1000, 10, False, 1000), (20, 2000, 10, False), 1000),
        # no packets
        (SizeSum(10, 1000, 10, False, 1000), (10, 1000, 10, True), 1000),
    ],
)
def test_size_sum(prev, now, expected):
    assert advance(prev, *now).sum == expected


def test_protocol_labels():
    assert [protocol(c.name) for c in counting() if c.group == "L3"] == list(L3)
    assert [protocol(c.name) for c in counting() if c.group == "L4"] == list(L4)


def test_counters_never_go_backwards_across_switches(served):
    """Scrapes across z and f switches and changing periods: every counter sample only grows."""
    script, t = [], 0
    for i in range(1, 9):
        t += int(1e9 * (0.1 if i % 2 else 5))  # interval changes
        n = 10 * i
        per = {"all": (n, 100 * n), "ipv4": (n, 100 * n), "udp": (n, 100 * n), "sizes": (0, 3 * i, 0, 0, 0, 0, 0)}
        script.append((t, [per, per]))
    src = fake(script, Feature.NONE)
    port = served(src)
    seen: dict = {}
    for features in [Feature.SIZES, Feature.NONE, Feature.SIZES | Feature.FLOWS, Feature.SIZES] * 2:
        src.set_features(features)
        for key, v in scrape(port).items():
            if key[0].startswith("bptraf_") and key[0].endswith(("_total", "_sum", "_count", "_bucket")):
                assert v >= seen.get(key, 0), key
                seen[key] = v
    assert src.reads == 8


def flow(slot, sport, packets, nbytes):
    return Flow(slot, 17, "198.18.0.2", sport, "198.18.0.1", 53, packets, nbytes, 1, 2)


def test_flows_only_the_top_n_by_rate(served):
    src = fake([(1, [TOTALS, TOTALS])], Feature.FLOWS)
    # First read: flow 1 is the biggest in total. Second: flow 2 grew fastest, flow 1 stood still.
    src.flow_script = [
        [flow(0, 1, 1000, 900_000), flow(0, 2, 10, 900), flow(1, 3, 5, 500)],
        [flow(0, 1, 1000, 900_000), flow(0, 2, 5010, 450_900), flow(1, 3, 6, 600)],
    ]
    port = served(src, flows_top=2)
    first = scrape(port)
    assert {dict(k[1])["sport"] for k in first if k[0] == "bptraf_receive_flow_bytes_total"} == {"1", "2"}
    second = scrape(port)
    top = {dict(k[1])["sport"]: v for k, v in second.items() if k[0] == "bptraf_receive_flow_bytes_total"}
    assert top == {"2": 450_900, "3": 600}
    labels = dict(next(k[1] for k in second if k[0] == "bptraf_receive_flow_packets_total"))
    assert labels == {"interface": "eth0", "protocol": "udp", "src": "198.18.0.2", "sport": "2",
                      "dst": "198.18.0.1", "dport": "53"}  # fmt: skip


def test_flows_are_not_exported_without_the_cap(served):
    src = fake([(1, [TOTALS, TOTALS])], Feature.FLOWS)
    src.flow_script = [[flow(0, 1, 10, 900)]]
    assert not [n for n in names(scrape(served(src))) if "flow" in n]
    assert src.flow_reads == 0


def test_openmetrics_when_asked(served):
    port = served(fake([(1, [TOTALS, TOTALS])]))
    status, headers, body = get(port, headers={"Accept": OPENMETRICS})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    found = samples(text, openmetrics=True)
    assert value(found, "bptraf_receive_packets_total", interface="eth0") == 100
    assert value(found, "bptraf_receive_frame_size_bytes_count", interface="eth1") == 100
    assert get(port)[1]["Content-Type"].startswith("text/plain; version=0.0.4")


def test_promtool_accepts_the_text_format(served):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: scripts/setup.sh test installs Debian's prometheus")
    src = fake([(1, [{**TOTALS, "tx": {"all": (1, 60)}}, TOTALS])], Feature.SIZES | Feature.FLOWS)
    src.flow_script = [[flow(0, 1, 10, 900), flow(1, 2, 1, 60)]]
    _status, _headers, body = get(served(src, flows_top=5, program_id=lambda a: 7))
    done = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shared_source_refuses_reads_after_close():
    src = fake([(1, [TOTALS, TOTALS])])
    shared = Shared(src)
    assert shared.read()[0].packets[0] == 100
    shared.set_features(Feature.FLOWS)
    assert src.features == Feature.FLOWS and shared.features == Feature.FLOWS
    assert shared.script is src.script  # what a source offers beyond the protocol still shows
    shared.close()
    assert src.closed
    with pytest.raises(SourceClosed):
        shared.read()


def test_contrib_unit_runs_a_valid_command_line():
    from bptraf.cli import parser

    unit = (CONTRIB / "bptraf.service").read_text()
    exec_start = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    args = parser().parse_args(exec_start.split()[1:])
    assert args.quiet and args.listen
    caps = next(line.split("=", 1)[1].split() for line in unit.splitlines() if line.startswith("AmbientCapabilities="))
    assert set(caps) == {"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"}
    assert "Restart=on-failure" in unit.splitlines()
    scrape_config = (CONTRIB / "prometheus.yml").read_text()
    assert f":{args.listen.rsplit(':', 1)[-1]}" in scrape_config
    assert (CONTRIB / "grafana-dashboard.json").exists()


class _Fixed:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


@pytest.mark.parametrize("openmetrics", [False, True])
def test_bptraf_writes_what_the_client_would(openmetrics):
    """bptraf's own writers (the client's are too slow) give the same families, types and samples."""
    from prometheus_client import generate_latest
    from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
    from prometheus_client.parser import text_string_to_metric_families as parse_text

    from bptraf.exporter import encode
    from bptraf.exporter.metrics import Collector

    ifaces = (attachment('we"ird\\name'), attachment("eth1"))
    src = FakeSource(ifaces, [(1, [{**TOTALS, "tx": {"all": (1, 60)}}, TOTALS])])
    src.features = Feature.SIZES | Feature.FLOWS
    src.flow_script = [[flow(0, 1, 10, 900)]]
    families = Collector(src, flows_top=2).collect()
    ours, theirs = (
        (encode.openmetrics(families), generate_openmetrics(_Fixed(families)))
        if openmetrics
        else (encode.text(families), generate_latest(_Fixed(families)))
    )
    parse = parse_om if openmetrics else parse_text

    def digest(text: bytes):
        return sorted(
            (f.name, f.type, f.documentation, sorted((s.name, sorted(s.labels.items()), s.value) for s in f.samples))
            for f in parse(text.decode())
        )

    assert digest(ours) == digest(theirs)
    assert ours.endswith(b"# EOF\n") == openmetrics
    assert b'interface="we\\"ird\\\\name"' in ours


@pytest.mark.parametrize(
    "accept, openmetrics",
    [
        ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
         "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", True),  # what Prometheus 2.42 sends
        ("application/openmetrics-text", True),
        ("application/openmetrics-text; version=0.0.1", False),
        ("text/plain", False),
        ("", False),
        ("*/*", False),
    ],
)  # fmt: skip
def test_format_negotiation(accept, openmetrics):
    from bptraf.exporter.encode import wants_openmetrics

    assert wants_openmetrics(accept) == openmetrics


@pytest.mark.parametrize(
    "argv, says",
    [
        (["lo", "-q"], "-q needs --listen [ADDR:]PORT"),
        (["lo", "--metrics-flows", "5"], "--metrics-flows needs --listen [ADDR:]PORT"),
        (["lo", "-q", "--json", "--listen", "0"], "-q prints nothing"),
        (["lo", "-d", "--metrics-flows", "5", "--listen", "0"], "cannot be combined with --metrics-flows"),
        (["lo", "--listen", "70000"], "out of range"),
        (["lo", "--listen", "localhost:9747"], "not an IP address"),
    ],
)
def test_exporter_usage_errors_are_one_line(argv, says, capsys):
    from bptraf.cli import main

    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bptraf: ") and says in err


def test_listen_alone_means_the_default_port():
    from bptraf.cli import parser

    assert parser().parse_args(["eth0", "--listen"]).listen == str(DEFAULT_PORT)
    assert parser().parse_args(["eth0"]).listen is None
