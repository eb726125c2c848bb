"""The counter list comes from kernel/counters.h alone."""

import pytest

from bptraf.counters import counting, dropping, max_ifaces, parse, size_bounds, size_labels


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
    """The C compiler's enum values, map value layout and limits are the ones Python parsed."""
    from cprobe import run_c

    body = "".join(f'printf("{c.name} %d\\n", (int)BPTRAF_C_{c.name.upper()});\n' for c in counting()) + (
        'printf("NCOUNTERS %d\\n", (int)BPTRAF_NCOUNTERS);\n'
        'printf("NSIZES %d\\n", (int)BPTRAF_NSIZES);\n'
        'printf("MAX_IFACES %d\\n", (int)BPTRAF_MAX_IFACES);\n'
        'printf("sizes_at %ld\\n", (long)offsetof(struct bptraf_stats, sizes));\n'
        'printf("stats %ld\\n", (long)sizeof(struct bptraf_stats));\n'
        'printf("drop %ld\\n", (long)sizeof(struct bptraf_count));\n'
    )
    got = run_c(body)
    assert {c.name: got[c.name] for c in counting()} == {c.name: c.index for c in counting()}
    assert got["NCOUNTERS"] == len(counting())
    assert got["NSIZES"] == len(size_labels()) == len(size_bounds()) + 1
    assert got["MAX_IFACES"] == max_ifaces() == 8
    # bptraf.bpf reads a value as (packets, bytes) per counter, then the size buckets, all __u64.
    assert got["sizes_at"] == 16 * len(counting())
    assert got["stats"] == 8 * (2 * len(counting()) + len(size_labels()))
    assert got["drop"] == 16


def test_the_built_wheel_ships_the_kernel_sources(tmp_path):
    """A wheel built from this tree carries every kernel source beside the package, where kernel_dir() looks."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tree = tmp_path / "src"
    shutil.copytree(root, tree, ignore=shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(tree)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("bptraf-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (root / "kernel").iterdir() if p.suffix in (".c", ".h")}
    assert {"count.c", "drop.c", "counters.h", "parse.h", "proto.h", "slots.h"} <= shipped
    assert {f"bptraf/kernel/{n}" for n in shipped} <= names


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
