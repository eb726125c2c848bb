"""Run the real bptraf as a subprocess, as a user would, and read what it writes."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Bptraf:
    """A running `python -m bptraf ...`; always killed by stop() or the context manager."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bptraf", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def readline(self, timeout: float = 20.0) -> str:
        """The next stdout line; fails the test if none comes in time."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"bptraf {' '.join(self.args)} wrote nothing in {timeout}s")
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise AssertionError(f"bptraf exited {self.proc.wait()}: {err}")
        self.lines.append(line)
        return line

    def wait_ready(self, timeout: float = 60.0) -> dict:
        """Wait for the first JSON interval: the program is attached and counting from then on. Start-up
        compiles the programs (clang, in bptraf's loader child): on a loaded 2-CPU machine (load 10)
        that took over 20 s."""
        return json.loads(self.readline(timeout))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> tuple[int, str, str]:
        """Signal bptraf, wait for it, and return (exit code, every stdout line, stderr). The rest of
        stdout is read through the same buffered reader readline() used: communicate() reads the raw
        pipe and would skip what readline() had buffered, cutting a line in two."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rest: dict[str, str] = {}
        readers = [
            threading.Thread(target=lambda: rest.__setitem__("out", self.proc.stdout.read()), daemon=True),
            threading.Thread(target=lambda: rest.__setitem__("err", self.proc.stderr.read()), daemon=True),
        ]
        for t in readers:
            t.start()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"bptraf did not exit within {timeout}s of signal {sig}") from None
        for t in readers:
            t.join(timeout)
        self.lines += rest.get("out", "").splitlines(keepends=True)
        return self.proc.returncode, "".join(self.lines), rest.get("err", "")

    def __enter__(self) -> Bptraf:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def records(json_lines: str, iface: str):
    """The JSON interval records of one interface, in order (a drop run's final summary is skipped)."""
    for line in json_lines.splitlines():
        record = json.loads(line)
        if record["interface"] == iface and "counters" in record:
            yield record


def totals(json_lines: str, iface: str) -> dict[str, tuple[int, int]]:
    """Sum every interval's packets and bytes per counter, for one interface."""
    out: dict[str, list[int]] = {}
    for record in records(json_lines, iface):
        for name, c in record["counters"].items():
            t = out.setdefault(name, [0, 0])
            t[0] += c["packets"]
            t[1] += c["bytes"]
    return {name: (p, b) for name, (p, b) in out.items()}


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
