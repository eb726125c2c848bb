"""The interface facts the TUI shows beside XDP's counts, from psutil; injectable for tests."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import psutil

from bptraf.tui.board import NicCounters


@dataclass(frozen=True)
class LinkInfo:
    speed_mbps: int  # 0 when the driver does not say
    mtu: int
    mac: str
    addresses: tuple[str, ...]


class SystemInfo:
    """Reads /proc and /sys through psutil, and the attached program's id through netlink."""

    def __init__(self, counters=lambda: psutil.net_io_counters(pernic=True), mono=time.monotonic_ns) -> None:
        self._counters = counters
        self._mono = mono

    def prog_id(self, ifindex: int) -> int | None:
        """The XDP program attached now (it changes when a feature switch swaps programs)."""
        try:
            from bptraf import libbpf

            ids = libbpf.xdp_prog_ids(ifindex)
        except Exception:  # a missing id only leaves the header shorter
            return None
        return next((i for i in ids.values() if i), None)

    def default_route(self) -> str | None:
        from bptraf.netif import default_route_iface

        return default_route_iface()

    def link(self, iface: str) -> LinkInfo:
        stats = psutil.net_if_stats().get(iface)
        mac, addrs = "", []
        for a in psutil.net_if_addrs().get(iface, []):
            if a.family == psutil.AF_LINK:
                mac = a.address
            elif a.family in (socket.AF_INET, socket.AF_INET6):
                prefix = _prefix(a.netmask)
                addrs.append(f"{a.address.split('%')[0]}/{prefix}" if prefix is not None else a.address)
        return LinkInfo(stats.speed if stats else 0, stats.mtu if stats else 0, mac, tuple(addrs))

    def nic(self, ifaces: tuple[str, ...]) -> dict[str, NicCounters]:
        counters = self._counters()
        ts = self._mono()
        out = {}
        for name in ifaces:
            c = counters.get(name)
            if c is not None:
                out[name] = NicCounters(
                    ts,
                    c.packets_recv,
                    c.bytes_recv,
                    c.packets_sent,
                    c.bytes_sent,
                    c.errin,
                    c.dropin,
                    c.errout,
                    c.dropout,
                )
        return out


def _prefix(netmask: str | None) -> int | None:
    if not netmask:
        return None
    try:
        if ":" in netmask:
            return sum(bin(b).count("1") for b in socket.inet_pton(socket.AF_INET6, netmask))
        return sum(bin(b).count("1") for b in socket.inet_aton(netmask))
    except OSError:
        return None
