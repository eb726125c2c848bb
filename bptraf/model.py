"""The values that flow down the pipeline: what is attached, and what was read."""

from __future__ import annotations

from dataclasses import dataclass

from bptraf.counters import Counter


@dataclass(frozen=True)
class Attachment:
    """One interface bptraf watches, and how its program is attached."""

    iface: str
    ifindex: int
    mode: str  # "native" | "generic"
    action: str  # "pass" | "drop"
    counters: tuple[Counter, ...]
    via: str = "link"  # "link" | "netlink"


@dataclass(frozen=True)
class Snapshot:
    """Map totals since attach, summed over CPUs, stamped with a monotonic clock (ns)."""

    ts_ns: int
    packets: tuple[int, ...]
    bytes: tuple[int, ...]
    cpu_packets: tuple[int, ...]  # the `all` counter, per possible CPU
    cpu_bytes: tuple[int, ...]

    @classmethod
    def zero(cls, ts_ns: int, ncounters: int, ncpus: int) -> Snapshot:
        return cls(ts_ns, (0,) * ncounters, (0,) * ncounters, (0,) * ncpus, (0,) * ncpus)
