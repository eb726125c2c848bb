"""Interface helpers that read /proc and /sys."""

from bptraf import netif

ROUTE = """Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth1	00000000	0102A8C0	0003	0	0	200	00000000	0	0	0
eth0	00000000	010011AC	0003	0	0	100	00000000	0	0	0
eth0	000011AC	00000000	0001	0	0	100	00FFFFFF	0	0	0
"""
IPV6_ROUTE = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n"
)


def test_default_route_prefers_the_lowest_metric(tmp_path):
    (tmp_path / "route").write_text(ROUTE)
    assert netif.default_route_iface(tmp_path) == "eth0"


def test_default_route_falls_back_to_ipv6(tmp_path):
    (tmp_path / "route").write_text(ROUTE.splitlines()[0] + "\n")
    (tmp_path / "ipv6_route").write_text(IPV6_ROUTE)
    assert netif.default_route_iface(tmp_path) == "wlan0"


def test_no_default_route(tmp_path):
    assert netif.default_route_iface(tmp_path) is None


def test_possible_cpus(tmp_path):
    for text, n in [("0\n", 1), ("0-1\n", 2), ("0-3,8-11\n", 8), ("0,2,4-5\n", 4)]:
        (tmp_path / "possible").write_text(text)
        assert netif.possible_cpus(str(tmp_path / "possible")) == n


def test_loopback_resolves():
    assert netif.resolve("lo") == 1
    assert netif.still_there("lo", 1)
    assert not netif.still_there("lo", 999)
