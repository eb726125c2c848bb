"""Test network: a veth pair whose peer sits in a network namespace the test creates, torn down after.

bptraf watches the host end (`host`); frames are sent from the peer end inside the namespace, so
they arrive on `host` as received traffic. IPv6 is disabled on both ends before they come up, so the
kernel adds no traffic of its own (router solicitations, DAD, MLD) to what a test counts.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST_ADDR = "198.18.0.1"
PEER_ADDR = "198.18.0.2"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


@dataclass
class VethLab:
    ns: str
    host: str
    peer: str

    @classmethod
    def create(cls, addresses: bool = False) -> VethLab:
        tag = secrets.token_hex(3)
        lab = cls(ns=f"bptraf-{tag}", host=f"bpt{tag}a", peer=f"bpt{tag}b")
        try:
            sh("ip", "netns", "add", lab.ns)
            sh("ip", "link", "add", lab.host, "type", "veth", "peer", "name", lab.peer, "netns", lab.ns)
            sh("sysctl", "-qw", f"net.ipv6.conf.{lab.host}.disable_ipv6=1")
            lab.in_ns("sysctl", "-qw", f"net.ipv6.conf.{lab.peer}.disable_ipv6=1")
            lab.in_ns("sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1")
            if addresses:
                lab.address()
            sh("ip", "link", "set", lab.host, "up")
            lab.in_ns("ip", "link", "set", lab.peer, "up")
        except BaseException:
            lab.destroy()
            raise
        return lab

    def address(self) -> None:
        """IPv4 on both ends with static neighbours, so UDP flows without ARP traffic."""
        sh("ip", "addr", "add", f"{HOST_ADDR}/30", "dev", self.host)
        self.in_ns("ip", "addr", "add", f"{PEER_ADDR}/30", "dev", self.peer)
        host_mac = Path(f"/sys/class/net/{self.host}/address").read_text().strip()
        peer_mac = self.in_ns("cat", f"/sys/class/net/{self.peer}/address").stdout.strip()
        sh("ip", "neigh", "replace", PEER_ADDR, "lladdr", peer_mac, "dev", self.host, "nud", "permanent")
        self.in_ns("ip", "neigh", "replace", HOST_ADDR, "lladdr", host_mac, "dev", self.peer, "nud", "permanent")

    def in_ns(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.ns, *cmd, check=check)

    def send(self, frames: list[bytes]) -> None:
        """Send raw Ethernet frames out of the peer end; they arrive on `host`."""
        payload = "\n".join(f.hex() for f in frames) + "\n"
        subprocess.run(
            ["ip", "netns", "exec", self.ns, sys.executable, str(HERE / "send_frames.py"), self.peer],
            input=payload,
            text=True,
            check=True,
            timeout=30,
        )

    def xdp_attached(self) -> bool:
        out = sh("ip", "-d", "link", "show", "dev", self.host).stdout
        return "prog/xdp" in out or " xdp" in out.split("\n")[0]

    def destroy(self) -> None:
        # Deleting the namespace deletes the peer, and with it the host end and any program on it.
        sh("ip", "link", "del", self.host, check=False)
        sh("ip", "netns", "del", self.ns, check=False)


def bptraf_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "bptraf", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
