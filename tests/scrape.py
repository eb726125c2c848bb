"""Test helpers for the exporter: HTTP over a plain socket, and scrapes parsed into samples."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import time
import urllib.parse
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

Samples = dict[tuple[str, frozenset], float]


def get(port: int, path: str = "/metrics", method: str = "GET", headers: dict | None = None, timeout: float = 10.0):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def samples(text: str, openmetrics: bool = False) -> Samples:
    """Every sample of a scrape, keyed by name and label set."""
    parse = parse_openmetrics if openmetrics else parse_text
    return {(s.name, frozenset(s.labels.items())): s.value for family in parse(text) for s in family.samples}


def scrape(port: int) -> Samples:
    status, _headers, body = get(port)
    assert status == 200, body
    return samples(body.decode())


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def names(found: Samples) -> set[str]:
    return {name for name, _labels in found}


def announced_port(line: str) -> int:
    """The port in bptraf's `serving Prometheus metrics at http://...:PORT/metrics` note."""
    m = re.search(r"serving Prometheus metrics at http://\S+:(\d+)/metrics", line)
    assert m, f"no exporter address in {line!r}"
    return int(m.group(1))


def read_announced_port(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """Read bptraf's stderr until it says where it serves (it says so once attached)."""
    import select

    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if "serving Prometheus metrics" in line:
            return announced_port(line)
    raise AssertionError(f"bptraf did not announce its exporter: {''.join(seen)!r} (exit {proc.poll()})")


def api(port: int, path: str, **params) -> dict:
    """A Prometheus HTTP API call on 127.0.0.1:port; the `data` of a successful answer."""
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        answer = json.load(resp)
    assert answer["status"] == "success", answer
    return answer["data"]


def scrape_until(port: int, predicate, timeout: float = 10.0) -> Samples:
    """Scrape until `predicate(samples)` holds (bounded); the scrape it held for."""
    deadline = time.monotonic() + timeout
    while True:
        found = scrape(port)
        if predicate(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no scrape satisfied the test within {timeout}s")
        time.sleep(0.1)
