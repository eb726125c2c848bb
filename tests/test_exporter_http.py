"""The exporter's HTTP side: only GET /metrics and / answer, and hostile clients cannot wedge it."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fakes import FakeSource, attachment
from runner import wait_for
from scrape import get, scrape, value

from bptraf.exporter import Exporter, http, parse_listen
from bptraf.source import Feature

TOTALS = {"all": (100, 9000), "ipv4": (100, 9000), "udp": (100, 9000)}


@pytest.fixture
def port():
    src = FakeSource((attachment("eth0"),), [(1, [TOTALS])])
    src.features = Feature.SIZES
    ex = Exporter(parse_listen("127.0.0.1:0"))
    ex.start(src)
    yield ex.socket.getsockname()[1]
    ex.stop()


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def open_count() -> int:
    return len(threading.enumerate())


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/metrics", 200),
        ("GET", "/metrics?x=1", 200),
        ("GET", "/", 200),
        ("GET", "/favicon.ico", 404),
        ("GET", "/metrics/", 404),
        ("GET", "/../metrics", 404),
        ("POST", "/metrics", 405),
        ("PUT", "/", 405),
        ("DELETE", "/metrics", 405),
        ("HEAD", "/metrics", 405),
        ("OPTIONS", "/metrics", 405),
        ("POST", "/nothing", 404),
    ],
)
def test_only_get_metrics_and_index_answer(port, method, path, status):
    got, headers, body = get(port, path, method)
    assert got == status
    if status == 405:
        assert headers["Allow"] == "GET"
    if (method, path) == ("GET", "/"):
        assert b'<a href="/metrics">' in body


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
        (b"GET /metrics\r\n\r\n", 400),
        (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
        (b"GET http://example.org/metrics HTTP/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_an_error_and_a_close(port, raw, status):
    answer = exchange(port, raw)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]
    assert b"Connection: close" in answer


def test_keep_alive_serves_many_requests_on_one_connection(port):
    req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(req * 3 + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.count(b"HTTP/1.1 200 OK") == 4
    assert out.count(b"bptraf_receive_packets_total{") == 3


def test_a_megabyte_header_is_refused_and_the_server_serves_on(port):
    head = b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    answer = exchange(port, head)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert value(scrape(port), "bptraf_receive_packets_total", interface="eth0") == 100


def test_slowloris_is_cut_off_and_never_blocks_a_scrape(port, monkeypatch):
    monkeypatch.setattr(http, "HEAD_TIMEOUT_S", 1.0)
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        slow.sendall(b"G")
        partial = b"ET /metrics HTTP/1.1\r\nX-Slow: "
        for i in range(len(partial)):
            slow.sendall(partial[i : i + 1])
            # a scrape on another connection is answered while the slow one is still in its head
            if i % 10 == 0:
                assert value(scrape(port), "bptraf_receive_packets_total", interface="eth0") == 100
        # keep dribbling: the server closes the connection once the head is late (bounded wait)
        closed = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not closed:
            try:
                slow.sendall(b"a")
                slow.settimeout(0.2)
                closed = slow.recv(1) == b""
            except socket.timeout:
                continue
            except OSError:
                closed = True
        assert closed, "a request head that never ended kept its connection"
    finally:
        slow.close()


def test_ten_thousand_requests_leave_nothing_behind(port):
    threads = open_count()
    statuses: dict[int, int] = {}
    paths = [b"/metrics"] + [b"/", b"/nope"] * 5
    sent = 0
    for conn in range(100):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            reqs = b"".join(b"GET " + paths[(conn + i) % len(paths)] + b" HTTP/1.1\r\n\r\n" for i in range(99))
            s.sendall(reqs + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            out = b""
            while chunk := s.recv(1 << 16):
                out += chunk
        for status in (200, 404):
            statuses[status] = statuses.get(status, 0) + out.count(f"HTTP/1.1 {status} ".encode())
        sent += 100
    assert sent == 10_000
    assert statuses[200] + statuses[404] == 10_000
    assert statuses[404] == sum(1 for c in range(100) for i in range(99) if paths[(c + i) % len(paths)] == b"/nope")
    assert open_count() == threads  # one server thread, however many connections came and went
    assert value(scrape(port), "bptraf_receive_packets_total", interface="eth0") == 100


def test_idle_connections_make_room_for_new_ones(port):
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(http.MAX_CONNECTIONS)]
    try:
        # all places taken by connections that never asked anything: a new scrape still gets in
        assert value(scrape(port), "bptraf_receive_packets_total", interface="eth0") == 100
        assert wait_for(lambda: any(_closed(s) for s in idle), timeout=5)
    finally:
        for s in idle:
            s.close()


def _closed(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_a_scrape_never_resolves_a_name(monkeypatch):
    looked_up = []

    def no_dns(name):
        def refuse(*args, **kw):
            looked_up.append((name, args))
            raise OSError("no DNS in this test")

        return refuse

    for fn in ("getaddrinfo", "gethostbyaddr", "gethostbyname", "gethostbyname_ex", "getfqdn", "getnameinfo"):
        monkeypatch.setattr(socket, fn, no_dns(fn))
    src = FakeSource((attachment("eth0"),), [(1, [TOTALS])])
    ex = Exporter(parse_listen("127.0.0.1:0"))
    try:
        ex.start(src)
        port = ex.socket.getsockname()[1]
        with socket.socket() as s:  # connect() by address tuple: no resolver involved on this side
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: somewhere.invalid\r\nConnection: close\r\n\r\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
    finally:
        ex.stop()
    assert out.startswith(b"HTTP/1.1 200 OK") and b"bptraf_receive_packets_total" in out
    assert looked_up == []


def test_stop_ends_the_thread_and_frees_the_port():
    src = FakeSource((attachment("eth0"),), [(1, [TOTALS])])
    before = open_count()
    ex = Exporter(parse_listen("127.0.0.1:0"))
    ex.start(src)
    port = ex.socket.getsockname()[1]
    held = socket.create_connection(("127.0.0.1", port), timeout=10)  # an open keep-alive connection
    try:
        assert open_count() == before + 1
        ex.stop()
        assert open_count() == before
        again = Exporter(parse_listen(f"127.0.0.1:{port}"))  # the same port binds again at once
        again.stop()
    finally:
        held.close()


def test_a_failed_read_is_a_500_and_the_server_serves_on():
    src = FakeSource((attachment("eth0"),), [(1, [TOTALS])])
    ex = Exporter(parse_listen("127.0.0.1:0"))
    ex.start(src)
    try:
        port = ex.socket.getsockname()[1]
        src.script = []  # the next read fails (IndexError), as a vanished map would
        assert get(port)[0] == 500
        assert get(port, "/")[0] == 200
        src.script = [(2, [TOTALS])]
        assert value(scrape(port), "bptraf_receive_packets_total", interface="eth0") == 100
    finally:
        ex.stop()
