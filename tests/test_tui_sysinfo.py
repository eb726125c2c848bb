"""The interface facts beside XDP's counts: the link line's figures from psutil, the program id from
the kernel, each read the right way round (psutil is faked here, the values are exact)."""

from __future__ import annotations

import socket
from collections import namedtuple

import psutil

from bptraf import libbpf, netif
from bptraf.tui import sysinfo
from bptraf.tui.panel import link_text
from bptraf.tui.sysinfo import LinkInfo, SystemInfo

Addr = namedtuple("Addr", "family address netmask broadcast ptp")
Stats = namedtuple("Stats", "isup duplex speed mtu flags")


def fake_psutil(monkeypatch, stats, addrs):
    monkeypatch.setattr(sysinfo.psutil, "net_if_stats", lambda: stats)
    monkeypatch.setattr(sysinfo.psutil, "net_if_addrs", lambda: addrs)


def test_link_reads_speed_mtu_mac_and_addresses_with_their_prefixes(monkeypatch):
    fake_psutil(
        monkeypatch,
        {"veth0": Stats(True, 2, 10000, 9000, "up"), "eth9": Stats(True, 2, 1, 1, "up")},
        {
            "veth0": [
                Addr(socket.AF_INET, "198.18.0.1", "255.255.255.252", None, None),
                Addr(psutil.AF_LINK, "02:00:00:00:00:0a", None, None, None),
                Addr(socket.AF_INET6, "fe80::1%veth0", "ffff:ffff:ffff:ffff::", None, None),
                Addr(socket.AF_INET6, "2001:db8::5", None, None, None),  # no netmask: the address alone
                Addr(socket.AF_INET, "198.18.0.9", "not-a-mask", None, None),  # unreadable: likewise
            ],
            "eth9": [Addr(socket.AF_INET, "203.0.113.1", "255.255.255.0", None, None)],
        },
    )
    link = SystemInfo().link("veth0")
    assert link == LinkInfo(
        10000, 9000, "02:00:00:00:00:0a", ("198.18.0.1/30", "fe80::1/64", "2001:db8::5", "198.18.0.9")
    )
    assert str(link_text("veth0", link)) == (
        "veth0  10000 Mb/s  MTU 9000  02:00:00:00:00:0a  198.18.0.1/30 fe80::1/64 2001:db8::5 198.18.0.9"
    )


def test_a_link_psutil_does_not_know_says_so(monkeypatch):
    fake_psutil(monkeypatch, {}, {})
    link = SystemInfo().link("gone0")
    assert link == LinkInfo(0, 0, "", ())
    assert str(link_text("gone0", link)) == "gone0  speed n/a  MTU 0    no addresses"


def test_prefix_lengths():
    assert sysinfo._prefix("255.255.255.0") == 24
    assert sysinfo._prefix("255.0.0.0") == 8
    assert sysinfo._prefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == 128
    assert sysinfo._prefix("ffff:fff0::") == 28
    assert sysinfo._prefix("") is None and sysinfo._prefix(None) is None
    assert sysinfo._prefix("ffff::zz") is None and sysinfo._prefix("300.1.1.1") is None


def test_prog_id_is_the_attached_program_of_any_mode(monkeypatch):
    asked = []

    def ids(ifindex):
        asked.append(ifindex)
        return {"native": 0, "generic": 57}

    monkeypatch.setattr(libbpf, "xdp_prog_ids", ids)
    assert SystemInfo().prog_id(7) == 57 and asked == [7]
    monkeypatch.setattr(libbpf, "xdp_prog_ids", lambda ifindex: {})
    assert SystemInfo().prog_id(7) is None


def test_prog_id_that_cannot_be_read_leaves_it_out(monkeypatch):
    def refuse(ifindex):
        raise OSError("no such device")

    monkeypatch.setattr(libbpf, "xdp_prog_ids", refuse)
    assert SystemInfo().prog_id(7) is None


def test_default_route_is_netifs(monkeypatch):
    monkeypatch.setattr(netif, "default_route_iface", lambda: "eth7")
    assert SystemInfo().default_route() == "eth7"
