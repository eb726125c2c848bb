"""The bench's network: a veth pair, receiver end `rx` in this namespace, generator end in a netns.

The generator is pinned to CPU 0; the receiver's NAPI runs threaded, pinned to CPU 1, so the receive
side's cost per packet is what limits its rate. Everything is torn down on exit, even on failure.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RX_ADDR = "198.18.0.1"
GEN_ADDR = "198.18.0.2"
GEN_CPU, RX_CPU = 0, 1


def sh(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


@dataclass
class Testbed:
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    method: str = "live"  # the generator's (bench/trafgen.py): bench/traffic.py's choose_generator() sets it

    def __post_init__(self) -> None:
        self.ns = f"bptraf-bench-{self.tag}"
        self.rx = f"bbr{self.tag}"
        self.gen = f"bbg{self.tag}"

    def __enter__(self) -> Testbed:
        try:
            sh("ip", "netns", "add", self.ns)
            sh("ip", "link", "add", self.rx, "type", "veth", "peer", "name", self.gen, "netns", self.ns)
            sh("sysctl", "-qw", f"net.ipv6.conf.{self.rx}.disable_ipv6=1")
            self.in_ns("sysctl", "-qw", f"net.ipv6.conf.{self.gen}.disable_ipv6=1")
            sh("ip", "addr", "add", f"{RX_ADDR}/30", "dev", self.rx)
            self.in_ns("ip", "addr", "add", f"{GEN_ADDR}/30", "dev", self.gen)
            sh("ip", "link", "set", self.rx, "up")
            self.in_ns("ip", "link", "set", self.gen, "up")
            # veth delivers XDP-transmitted frames only to a peer with NAPI: GRO turns it on even
            # with no XDP program, and threaded NAPI lets the receive work be pinned.
            sh("ethtool", "-K", self.rx, "gro", "on")
            Path(f"/sys/class/net/{self.rx}/threaded").write_text("1")
            self.pin_napi()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        sh("ip", "link", "del", self.rx, check=False)
        sh("ip", "netns", "del", self.ns, check=False)

    def in_ns(self, *cmd: str) -> str:
        return sh("ip", "netns", "exec", self.ns, *cmd)

    def pin_napi(self) -> None:
        """Pin the receiver's NAPI threads (they are re-created when an XDP program comes or goes)."""
        for pid in sh("pgrep", f"napi/{self.rx}", check=False).split():
            sh("taskset", "-pc", str(RX_CPU), pid, check=False)

    @property
    def rx_mac(self) -> str:
        return Path(f"/sys/class/net/{self.rx}/address").read_text().strip()

    def rx_packets(self) -> int:
        return int(Path(f"/sys/class/net/{self.rx}/statistics/rx_packets").read_text())

    def generator(self, seconds: float, size: int = 60) -> subprocess.Popen:
        """Start the generator for `seconds`; it writes `sending` just before the first frame."""
        cmd = ["ip", "netns", "exec", self.ns, "taskset", "-c", str(GEN_CPU), sys.executable, "-u", "-m", "bench.trafgen",
               self.gen, "--seconds", str(seconds), "--dst-mac", self.rx_mac, "--size", str(size),
               "--method", self.method]  # fmt: skip
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_generator(proc: subprocess.Popen, timeout: float = 60.0) -> dict:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError("the traffic generator did not finish in time") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the traffic generator failed: {err.strip()}")
    return json.loads(out.strip().splitlines()[-1])


def wait_line(proc: subprocess.Popen, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"process exited before saying {text!r}: {proc.stderr.read()}")
        if text in line:
            return
    raise RuntimeError(f"no {text!r} within {timeout}s")
