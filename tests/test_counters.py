"""The counter list comes from kernel/counters.h alone."""

import pytest

from bptraf.counters import counting, dropping, max_ifaces, parse
from bptraf.kernel_src import kernel_dir


def test_counting_program_counters():
    assert [(c.index, c.name, c.group) for c in counting()] == [
        (0, "all", "TOTAL"),
        (1, "ipv4", "L3"),
        (2, "ipv6", "L3"),
        (3, "arp", "L3"),
        (4, "pppoe", "L3"),
        (5, "l3_other", "L3"),
        (6, "tcp", "L4"),
        (7, "udp", "L4"),
        (8, "icmp", "L4"),
        (9, "icmpv6", "L4"),
        (10, "sctp", "L4"),
        (11, "l4_other", "L4"),
        (12, "vlan", "FLAG"),
    ]
    assert [c.label for c in counting()][:3] == ["all", "IPv4", "IPv6"]


def test_drop_program_counts_only_the_total():
    assert [c.name for c in dropping()] == ["all"]


def test_enum_and_list_agree():
    # The C enum is generated from the same X-macro; its terminator must follow the last entry.
    text = (kernel_dir() / "counters.h").read_text()
    assert "enum bptraf_counter { BPTRAF_COUNTERS(BPTRAF_ENUM) BPTRAF_NCOUNTERS };" in text
    assert max_ifaces() == 8


def test_kernel_sources_are_shipped_beside_the_header():
    for name in ("count.c", "drop.c", "slots.h", "proto.h"):
        assert (kernel_dir() / name).is_file()


@pytest.mark.parametrize(
    "header,problem",
    [
        ('#define BPTRAF_COUNTERS(X) \\\n\tX(IPV4, ipv4, L3, "IPv4")\n\n', "all"),
        ('#define BPTRAF_COUNTERS(X) \\\n\tX(ALL, all, TOTAL, "all") \\\n\tX(A, a, L7, "a")\n\n', "unknown group"),
    ],
)
def test_parse_rejects_bad_lists(header, problem):
    with pytest.raises(ValueError, match=problem):
        parse(header)
