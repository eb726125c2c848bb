"""The exporter for real: bptraf on a veth pair, scraped by a real Prometheus server and by hand."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
from frames import KINDS, eth, ipv4, mix, padded, udp
from promserver import Prometheus, free_port
from runner import ROOT, Bptraf, totals, wait_for
from scrape import get, names, read_announced_port, scrape, scrape_until, value

from bptraf.counters import size_bounds
from bptraf.exporter import Exporter, parse_listen, xdp_program_id
from bptraf.exporter.shared import Shared
from bptraf.source import Feature

pytestmark = pytest.mark.bpf

DASHBOARD = ROOT / "contrib" / "grafana-dashboard.json"
FAMILY = {"TOTAL": "bptraf_receive_{unit}_total", "vlan": "bptraf_receive_vlan_{unit}_total"}
L3 = {"ipv4": "ipv4", "ipv6": "ipv6", "arp": "arp", "pppoe": "pppoe", "l3_other": "other"}
L4 = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmpv6", "sctp": "sctp", "l4_other": "other"}


def bucket_of(length: int) -> str:
    return next((f"{float(b)}" for b in size_bounds() if length <= b), "+Inf")


def expected_buckets(frames: list[bytes]) -> dict[str, int]:
    """Cumulative bucket counts for these frames, keyed by `le`."""
    les = [*(f"{float(b)}" for b in size_bounds()), "+Inf"]
    per = {le: 0 for le in les}
    for f in frames:
        per[bucket_of(len(f))] += 1
    out, running = {}, 0
    for le in les:
        running += per[le]
        out[le] = running
    return out


class Exporting:
    """`bptraf ARGS --listen 127.0.0.1:0 IFACE` as a subprocess, and the port it announced."""

    def __init__(self, iface: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bptraf", iface, "--listen", "127.0.0.1:0", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = read_announced_port(self.proc)

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def exporting(lab):
    started: list[Exporting] = []

    def start(*args: str) -> Exporting:
        e = Exporting(lab.host, *args)
        started.append(e)
        return e

    yield start
    for e in started:
        e.kill()


@pytest.fixture
def prometheus(tmp_path):
    servers: list[Prometheus] = []

    def start(target_port: int) -> Prometheus:
        p = Prometheus(tmp_path, target_port)
        servers.append(p)
        p.wait_ready()
        return p

    yield start
    for p in servers:
        p.stop()
        assert p.proc.poll() is not None


def test_prometheus_sees_every_class_grow_exactly(lab, exporting, prometheus):
    bp = exporting("-q", "--sizes")
    prom = prometheus(bp.port)
    sel = f'interface="{lab.host}"'
    prom.poll(f'up{{job="bptraf"}} == 1 and on() bptraf_receive_packets_total{{{sel}}}', lambda v: len(v) == 1)

    def state(at: float) -> dict[str, float]:
        out = {}
        for unit in ("packets", "bytes"):
            out[f"all/{unit}"] = prom.values(f"bptraf_receive_{unit}_total{{{sel}}}", at)[""]
            out[f"vlan/{unit}"] = prom.values(f"bptraf_receive_vlan_{unit}_total{{{sel}}}", at)[""]
            for level in ("l3", "l4"):
                for proto, v in prom.values(f"bptraf_receive_{level}_{unit}_total{{{sel}}}", at, "protocol").items():
                    out[f"{level}:{proto}/{unit}"] = v
        for le, v in prom.values(f"bptraf_receive_frame_size_bytes_bucket{{{sel}}}", at, "le").items():
            out[f"le={le}"] = v
        out["count"] = prom.values(f"bptraf_receive_frame_size_bytes_count{{{sel}}}", at)[""]
        out["sum"] = prom.values(f"bptraf_receive_frame_size_bytes_sum{{{sel}}}", at)[""]
        return out

    import time

    t0 = time.time()
    before = state(t0)
    frames, expected = mix()
    lab.send(frames)
    t1 = prom.poll(f"bptraf_receive_packets_total{{{sel}}}", lambda v: v.get("") == before["all/packets"] + len(frames))
    after = state(t1)
    want = {}
    for i, unit in enumerate(("packets", "bytes")):
        want[f"all/{unit}"] = expected["all"][i]
        want[f"vlan/{unit}"] = expected.get("vlan", (0, 0))[i]
        for counter, proto in L3.items():
            want[f"l3:{proto}/{unit}"] = expected.get(counter, (0, 0))[i]
        for counter, proto in L4.items():
            want[f"l4:{proto}/{unit}"] = expected.get(counter, (0, 0))[i]
    for le, n in expected_buckets(frames).items():
        want[f"le={le}"] = n
    want["count"], want["sum"] = len(frames), expected["all"][1]
    assert {k: after[k] - before[k] for k in want} == want

    # 50 frames of 1000 bytes: the median of what arrived since t1 lies in the (511, 1023] bucket.
    big = [padded(eth(0x0800, ipv4(17, udp(4000, 5000))), 1000)] * 50
    lab.send(big)
    t2 = prom.poll(f"bptraf_receive_frame_size_bytes_count{{{sel}}}", lambda v: v.get("") == after["count"] + 50)
    bucket = f"bptraf_receive_frame_size_bytes_bucket{{{sel}}}"
    median = prom.values(f"histogram_quantile(0.5, {bucket} - {bucket} @ {t1:.3f})", t2)[""]
    assert 511 < median <= 1023
    assert prom.values(f"histogram_quantile(0.5, {bucket})", t2)[""] <= 127  # all of it: mostly small frames

    code, out, err = bp.stop()
    assert (code, out) == (0, ""), err
    assert not lab.xdp_attached()


def dashboard_metric_names() -> set[str]:
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(DASHBOARD.read_text()))
    assert exprs, "the dashboard queries nothing"
    return {n for e in exprs for n in re.findall(r"\b((?:bptraf|process)_[a-z0-9_]+)", e)}


def test_a_real_scrape_beside_json_output_passes_promtool_and_has_every_dashboard_name(lab, exporting):
    bp = exporting("--json", "-i", "0.2", "--sizes", "--metrics-flows", "3")
    first = json.loads(bp.proc.stdout.readline())  # the JSON output goes on as usual
    assert first["interface"] == lab.host
    frames = [eth(0x0800, ipv4(17, udp(4000 + i % 5, 53))) for i in range(20)]
    lab.send(frames)
    found = scrape_until(bp.port, lambda f: _flows(f) == 3)
    _status, _headers, body = get(bp.port)
    done = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    missing = dashboard_metric_names() - names(found)
    assert not missing, f"the dashboard queries metrics a scrape does not have: {sorted(missing)}"
    code, out, err = bp.stop()
    assert code == 0, err
    assert totals(out, lab.host)["all"] == (20, 20 * len(frames[0]))


def _flows(found) -> int:
    return sum(1 for name, _labels in found if name == "bptraf_receive_flow_packets_total")


def test_hostile_clients_cannot_stall_counting(lab, exporting):
    bp = exporting("--json", "-i", "0.2")
    port = bp.port
    stop = threading.Event()
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
    for s in slow:
        s.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")  # a head that never ends
    refused = []

    def big_header():
        refused.append(_exchange(port, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"))

    def flood():
        n = 0
        while not stop.is_set() and n < 2000:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /nope HTTP/1.1\r\n\r\n" * 49 + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
            n += 50

    workers = [threading.Thread(target=big_header), threading.Thread(target=flood)]
    try:
        for w in workers:
            w.start()
        frames, expected = mix()
        lab.send(frames)
        lines = []
        while totals("".join(lines), lab.host).get("all", (0, 0))[0] < len(frames):
            lines.append(_readline(bp.proc, timeout=10))  # JSON lines keep coming while under attack
        assert totals("".join(lines), lab.host)["all"] == expected["all"]
        assert value(scrape(port), "bptraf_receive_packets_total", interface=lab.host) == len(frames)
    finally:
        stop.set()
        for w in workers:
            w.join(60)
        for s in slow:
            s.close()
    assert refused and refused[0].startswith(b"HTTP/1.1 431 ")
    code, _out, err = bp.stop()
    assert code == 0, err
    assert not lab.xdp_attached()


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    import select

    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"bptraf wrote nothing in {timeout}s"
    return proc.stdout.readline()


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize(
    "listen, code, says",
    [
        ("taken", 1, "is already in use"),
        ("198.19.255.254:0", 2, "not an address of this host"),
        ("127.0.0.1:65536", 2, "out of range"),
        ("localhost:9747", 2, "not an IP address"),
    ],
)
def test_listen_errors_are_one_line_and_leave_nothing_attached(lab, listen, code, says):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    if listen == "taken":
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bptraf", lab.host, "-q", "--listen", listen],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert done.returncode == code
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("bptraf: --listen ") and says in done.stderr
    assert done.stdout == ""
    assert not lab.xdp_attached()


def test_quiet_serves_alone_and_ends_by_itself_with_c(lab):
    port = free_port()
    with Bptraf(lab.host, "-q", "--listen", f"127.0.0.1:{port}", "-i", "0.1", "-c", "100") as bp:
        assert wait_for(lambda: _answers(port), timeout=30)
        lab.send([KINDS[0].frame] * 7)
        assert value(scrape(port), "bptraf_receive_l4_packets_total", interface=lab.host, protocol="tcp") == 7
        bp.proc.wait(timeout=60)  # -c 100 at -i 0.1 ends it ten seconds after attaching, with no signal
        code, out, err = bp.stop()
    assert (code, out) == (0, ""), err
    assert "serving Prometheus metrics at http://127.0.0.1:" in err
    assert not lab.xdp_attached()
    assert not _answers(port)


def _answers(port: int) -> bool:
    try:
        return get(port, "/", timeout=2)[0] == 200
    except OSError:
        return False


def test_counters_never_go_backwards_across_feature_switches(lab):
    """f and z swap the program behind the link and keep the maps: in-process, as the TUI does it."""
    from bptraf.bpf import BpfSource

    frame = eth(0x0800, ipv4(17, udp(4000, 53)))
    with BpfSource([lab.host]) as raw:
        src = Shared(raw)
        ex = Exporter(parse_listen("127.0.0.1:0"))
        try:
            ex.start(src, xdp_program_id)
            port = ex.socket.getsockname()[1]
            seen: dict = {}
            ids = set()
            sent = 0
            for features in [Feature.SIZES, Feature.NONE, Feature.SIZES | Feature.FLOWS, Feature.FLOWS] * 2:
                src.set_features(features)
                lab.send([frame] * 5)
                sent += 5
                found = scrape(port)
                assert value(found, "bptraf_receive_packets_total", interface=lab.host) == sent
                assert value(found, "bptraf_receive_l4_bytes_total", interface=lab.host, protocol="udp") == sent * len(
                    frame
                )
                for key, v in found.items():
                    if key[0].startswith("bptraf_") and key[0].endswith(("_total", "_sum", "_count", "_bucket")):
                        assert v >= seen.get(key, 0), key
                        seen[key] = v
                ids |= {dict(k[1])["program_id"] for k in found if k[0] == "bptraf_xdp_info"}
                assert (
                    "bptraf_receive_frame_size_bytes_count" in names(found)
                ) == (Feature.SIZES in features)  # fmt: skip
            assert len(ids) == 4 and "" not in ids  # one program per feature set, each seen by its id
        finally:
            ex.stop()
    assert not lab.xdp_attached()


def test_beside_the_tui_f_and_z_switch_programs_and_never_move_a_counter_back(lab, tmp_path):
    import secrets

    port = free_port()
    sock = f"bptraf-exp-{secrets.token_hex(3)}"
    status = tmp_path / "status"
    cmd = f"cd {ROOT} && {sys.executable} -m bptraf {lab.host} --listen 127.0.0.1:{port}; echo $? > {status}; sleep 60"

    def tmux(*args: str) -> None:
        subprocess.run(["tmux", "-L", sock, *args], check=True, capture_output=True)

    tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "120", "-y", "40", cmd)
    try:
        assert wait_for(lambda: _answers(port), timeout=30)
        frame = KINDS[1].frame  # IPv4/UDP
        seen: dict = {}
        ids = last = _program_ids(scrape(port))
        sent = 0
        for key, sizes_on in (("z", True), ("f", True), ("z", False), ("f", False)):
            tmux("send-keys", "-t", "t", key)
            # the switch has happened once another program is attached, and sizes show or not
            scrape_until(
                port,
                lambda f, on=sizes_on, last=frozenset(last): (
                    _program_ids(f) != last and ("bptraf_receive_frame_size_bytes_count" in names(f)) == on
                ),
            )
            lab.send([frame] * 3)
            sent += 3
            found = scrape_until(
                port, lambda f, n=sent: value(f, "bptraf_receive_packets_total", interface=lab.host) == n
            )
            assert value(found, "bptraf_receive_l4_packets_total", interface=lab.host, protocol="udp") == sent
            for k, v in found.items():
                if k[0].startswith("bptraf_") and k[0].endswith(("_total", "_sum", "_count", "_bucket")):
                    assert v >= seen.get(k, 0), k
                    seen[k] = v
            last = _program_ids(found)
            ids |= last
        assert len(ids) == 4  # none, sizes, sizes+flows, flows: each its own program behind the link
        tmux("send-keys", "-t", "t", "q")
        assert wait_for(lambda: status.exists() and status.read_text().strip() != "", timeout=15)
        assert status.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    assert wait_for(lambda: not lab.xdp_attached(), timeout=15)
    assert wait_for(lambda: not _answers(port), timeout=15)


def _program_ids(found) -> set[str]:
    return {dict(k[1])["program_id"] for k in found if k[0] == "bptraf_xdp_info"}
