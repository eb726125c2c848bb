"""A real Prometheus server for the end-to-end test: on 127.0.0.1, its own config and data directory,
scraping bptraf every second; always stopped, even when the test fails."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from scrape import api

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: bptraf
    static_configs:
      - targets: ["127.0.0.1:{target}"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir: Path, target_port: int) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise AssertionError("prometheus is missing: scripts/setup.sh test installs Debian's package")
        (workdir / "prometheus.yml").write_text(CONFIG.format(target=target_port))
        self.port = free_port()
        self.log = (workdir / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.workdir = workdir

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited {self.proc.returncode}: {self.logs()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready in {timeout}s: {self.logs()}")

    def query(self, expr: str, at: float) -> list[dict]:
        """An instant query evaluated at `at` (seconds since the epoch): its result vector."""
        data = api(self.port, "/api/v1/query", query=expr, time=f"{at:.3f}")
        assert data["resultType"] == "vector", data
        return data["result"]

    def values(self, expr: str, at: float, by: str | None = None) -> dict[str, float]:
        """The query's samples at `at`, keyed by the label `by` (or "" for a single sample)."""
        return {r["metric"].get(by, "") if by else "": float(r["value"][1]) for r in self.query(expr, at)}

    def poll(self, expr: str, want, timeout: float = 30.0) -> float:
        """Poll until `want(values at now)` holds; return the evaluation time it held at."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            at = time.time()
            last = self.values(expr, at)
            if want(last):
                return at
            time.sleep(0.25)
        raise AssertionError(f"{expr} never satisfied the test in {timeout}s; last {last}; {self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return (self.workdir / "prometheus.log").read_text()[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
