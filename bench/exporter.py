"""The Prometheus exporter's cost: one scrape of 8 interfaces with sizes on, scraping once a second, RSS.

bptraf runs `-q --sizes --listen 127.0.0.1:0` on eight idle veth interfaces. A scrape's latency is
timed by a client on a kept-alive connection, each /metrics request paired with a request for the
static index page on the same connection, so the ratio shows what the collector adds to the bare
HTTP round trip. The CPU cost compares windows scraped once a second with windows not scraped, of
the same process, interleaved. RSS is read after the scraping, next to a plain-text run without
the exporter.
"""

from __future__ import annotations

import re
import secrets
import select
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from bench.userspace import cpu_seconds, status_kb

ROOT = Path(__file__).resolve().parent.parent
IFACES = 8
OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check, capture_output=True, text=True)


@contextmanager
def interfaces(n: int = IFACES):
    """n veth pairs, peers in a namespace of their own; removed on exit, even on failure."""
    tag = secrets.token_hex(2)
    ns = f"bptraf-bex-{tag}"
    names = [f"bex{tag}h{i}" for i in range(n)]
    try:
        sh("ip", "netns", "add", ns)
        for i, name in enumerate(names):
            sh("ip", "link", "add", name, "type", "veth", "peer", "name", f"bex{tag}p{i}", "netns", ns)
            sh("sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1")
            sh("ip", "link", "set", name, "up")
        yield names
    finally:
        for name in names:
            sh("ip", "link", "del", name, check=False)
        sh("ip", "netns", "del", ns, check=False)


@contextmanager
def bptraf(*args: str):
    """A bptraf process; (proc, exporter port or None). Always stopped."""
    proc = subprocess.Popen([sys.executable, "-m", "bptraf", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = None
        if "--listen" in args:
            ready, _, _ = select.select([proc.stderr], [], [], 60)
            line = proc.stderr.readline() if ready else ""
            m = re.search(r"metrics at http://\S+:(\d+)/metrics", line)
            if not m:
                raise RuntimeError(f"bptraf did not start its exporter: {line!r} {proc.poll()}")
            port = int(m.group(1))
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Client:
    """HTTP/1.1 on one kept-alive connection, reading exactly one answer per request."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def get(self, path: str, accept: str = "") -> bytes:
        extra = f"Accept: {accept}\r\n" if accept else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(self.buf) < length:
            self.buf += self.sock.recv(65536)
        body, self.buf = self.buf[:length], self.buf[length:]
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode())
        return body

    def timed(self, path: str, accept: str = "") -> float:
        start = time.perf_counter()
        self.get(path, accept)
        return time.perf_counter() - start

    def close(self) -> None:
        self.sock.close()


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def scrape_cost(pid: int, port: int, rounds: int, per_block: int = 40) -> dict:
    """Per round, one block each of /metrics (OpenMetrics, as Prometheus asks), /metrics (text) and /
    (the HTTP round trip alone), interleaved: each block's median wall time per request, and the
    server's CPU time per request over the block (schedstat; the client's time is not in it)."""
    c = Client(port)
    blocks = {"openmetrics": ("/metrics", OPENMETRICS), "text": ("/metrics", ""), "index": ("/", "")}
    wall: dict[str, list[float]] = {k: [] for k in blocks}
    cpu: dict[str, list[float]] = {k: [] for k in blocks}
    try:
        for _ in range(5):  # warm up: the first scrapes look program ids up
            c.get("/metrics")
        for _ in range(rounds):
            for kind, (path, accept) in blocks.items():
                c0 = cpu_seconds(pid)
                times = [c.timed(path, accept) for _ in range(per_block)]
                cpu[kind].append((cpu_seconds(pid) - c0) / per_block * 1e3)
                wall[kind].append(statistics.median(times) * 1e3)
        size = len(c.get("/metrics", OPENMETRICS))
    finally:
        c.close()
    out: dict = {"body_bytes": size, "per_block": per_block}
    for kind in blocks:
        out[f"{kind}_ms"] = _spread(wall[kind])
        out[f"{kind}_cpu_ms"] = _spread(cpu[kind])
    out["ratio_openmetrics_to_index"] = _spread([a / z for a, z in zip(wall["openmetrics"], wall["index"])])
    return out


def cpu_windows(pid: int, port: int, rounds: int, window_s: float) -> dict:
    """CPU% of one core: windows scraped once a second against windows left alone, interleaved."""
    scraped, idle = [], []
    for _ in range(rounds):
        for scrape in (True, False):
            c = Client(port) if scrape else None
            c0, t0 = cpu_seconds(pid), time.monotonic()
            deadline = t0
            while (now := time.monotonic()) < t0 + window_s:
                if c is not None and now >= deadline:
                    c.get("/metrics", OPENMETRICS)
                    deadline += 1.0
                time.sleep(max(min(deadline, t0 + window_s) - time.monotonic(), 0.001))
            c1, t1 = cpu_seconds(pid), time.monotonic()
            if c is not None:
                c.close()
            (scraped if scrape else idle).append(100 * (c1 - c0) / (t1 - t0))
    return {
        "scraped_percent": _spread(scraped),
        "idle_percent": _spread(idle),
        "cost_percent": _spread([s - i for s, i in zip(scraped, idle)]),
    }


def measure(rounds: int = 5, window_s: float = 10.0) -> dict:
    with interfaces() as names:
        with bptraf(*names, "-q", "--sizes", "--listen", "127.0.0.1:0") as (proc, port):
            latency = scrape_cost(proc.pid, port, rounds)
            cpu = cpu_windows(proc.pid, port, rounds, window_s)
            rss = {"rss_kb": status_kb(proc.pid, "VmRSS"), "peak_rss_kb": status_kb(proc.pid, "VmHWM")}
        with bptraf(*names, "--sizes", "--plain") as (proc, _port):
            time.sleep(3.0)  # past start-up, as for the exporter above
            plain = {"rss_kb": status_kb(proc.pid, "VmRSS"), "peak_rss_kb": status_kb(proc.pid, "VmHWM")}
    return {"interfaces": IFACES, "rounds": rounds, "window_s": window_s, "latency": latency, "cpu": cpu,
            "rss": rss, "plain_rss": plain}  # fmt: skip


def _fmt(s: dict, digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def render(r: dict) -> str:
    lat, cpu, rss = r["latency"], r["cpu"], r["rss"]
    ok = lambda good: "met" if good else "**missed**"  # noqa: E731
    return "\n".join([
        "## Prometheus exporter",
        "",
        f"`bptraf -q --sizes --listen 127.0.0.1:0` on {r['interfaces']} idle veth interfaces; {r['rounds']} "
        f"interleaved rounds of {lat['per_block']} requests per kind on one kept-alive connection; median "
        f"(min–max) of the rounds. Wall time is the client's, request sent to answer read; CPU is bptraf's "
        f"own (every thread's schedstat). A scrape answer is {lat['body_bytes']} bytes.",
        "",
        "| measure | value | target | |",
        "|---|---|---|---|",
        f"| one scrape, OpenMetrics (as Prometheus asks): wall ms | {_fmt(lat['openmetrics_ms'])} | ≤ 5 | "
        f"{ok(lat['openmetrics_ms']['median'] <= 5)} |",
        f"| the same: bptraf's CPU ms (the scrape's own work, whatever the VM's load) | "
        f"{_fmt(lat['openmetrics_cpu_ms'])} | ≤ 5 | {ok(lat['openmetrics_cpu_ms']['median'] <= 5)} |",
        f"| one scrape, text format: wall ms (CPU ms) | {_fmt(lat['text_ms'])} ({_fmt(lat['text_cpu_ms'])}) | | |",
        f"| GET / (the HTTP round trip alone): wall ms (CPU ms) | {_fmt(lat['index_ms'])} "
        f"({_fmt(lat['index_cpu_ms'])}) | | |",
        f"| scrape / index, wall | {_fmt(lat['ratio_openmetrics_to_index'], 1)} | | |",
        f"| CPU scraped once a second, % of a core | {_fmt(cpu['scraped_percent'])} | | |",
        f"| CPU not scraped, % of a core | {_fmt(cpu['idle_percent'])} | | |",
        f"| scraping once a second costs, % of a core (difference per pair of {r['window_s']:g} s windows) | "
        f"{_fmt(cpu['cost_percent'])} | ≤ 1 | {ok(cpu['cost_percent']['median'] <= 1)} |",
        f"| RSS after scraping, MiB (peak) | {rss['rss_kb'] / 1024:.1f} ({rss['peak_rss_kb'] / 1024:.1f}) | ≤ 40 | "
        f"{ok(rss['peak_rss_kb'] <= 40 * 1024)} |",
        f"| RSS of `--plain` without the exporter, MiB (peak) | {r['plain_rss']['rss_kb'] / 1024:.1f} "
        f"({r['plain_rss']['peak_rss_kb'] / 1024:.1f}) | | |",
        "",
    ])  # fmt: skip
