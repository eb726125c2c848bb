"""bptraf's counters, read from kernel/counters.h so C and Python share one list."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bptraf.kernel_src import kernel_dir

GROUPS = ("TOTAL", "L3", "L4", "FLAG")
_ENTRY = re.compile(r'X\(\s*(\w+)\s*,\s*(\w+)\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*\)')


@dataclass(frozen=True)
class Counter:
    """One counter: its index in the map value, name, group and display label."""

    index: int
    name: str
    group: str
    label: str


def parse(header: str) -> tuple[Counter, ...]:
    """Parse the X(...) entries of the BPTRAF_COUNTERS macro."""
    body = header.split("#define BPTRAF_COUNTERS(X)", 1)[1].split("\n\n", 1)[0]
    found = tuple(Counter(i, name, group, label) for i, (_enum, name, group, label) in enumerate(_ENTRY.findall(body)))
    if not found or found[0].name != "all":
        raise ValueError("counters.h: BPTRAF_COUNTERS must list `all` first")
    for c in found:
        if c.group not in GROUPS:
            raise ValueError(f"counters.h: {c.name} has unknown group {c.group}")
    return found


@cache
def counting() -> tuple[Counter, ...]:
    """The counting program's counters, in map order."""
    return parse((kernel_dir() / "counters.h").read_text())


@cache
def max_ifaces() -> int:
    """How many interfaces one run may watch (BPTRAF_MAX_IFACES)."""
    found = re.search(r"#define BPTRAF_MAX_IFACES (\d+)", (kernel_dir() / "counters.h").read_text())
    if not found:
        raise ValueError("counters.h: BPTRAF_MAX_IFACES is missing")
    return int(found.group(1))


@cache
def size_bounds() -> tuple[int, ...]:
    """Upper bounds of the frame-size buckets but the last (BPTRAF_SIZES)."""
    text = (kernel_dir() / "counters.h").read_text()
    found = re.search(r"#define BPTRAF_SIZES\(X\)((?: X\(\d+\))+)", text)
    if not found:
        raise ValueError("counters.h: BPTRAF_SIZES is missing")
    return tuple(int(n) for n in re.findall(r"X\((\d+)\)", found.group(1)))


def size_labels() -> tuple[str, ...]:
    """`0-64`, `65-127`, ..., `1519+`: one per bucket, the jumbo bucket last."""
    bounds = size_bounds()
    lows = (0, *(b + 1 for b in bounds))
    return tuple(f"{lo}-{hi}" for lo, hi in zip(lows, bounds)) + (f"{bounds[-1] + 1}+",)


def dropping() -> tuple[Counter, ...]:
    """The drop program counts only the total."""
    return counting()[:1]


def for_action(action: str) -> tuple[Counter, ...]:
    return dropping() if action == "drop" else counting()
