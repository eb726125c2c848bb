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
    sizes: tuple[str, ...] = ()  # frame-size bucket labels, where the program keeps the histogram


@dataclass(frozen=True)
class Snapshot:
    """Map totals since attach, summed over CPUs, stamped with a monotonic clock (ns)."""

    ts_ns: int
    packets: tuple[int, ...]
    bytes: tuple[int, ...]
    cpu_packets: tuple[int, ...]  # the `all` counter, per possible CPU
    cpu_bytes: tuple[int, ...]
    sizes: tuple[int, ...] = ()  # packets per frame-size bucket (counting program only)
    # What the host sent, in the same classes and buckets; empty while TX is not counted.
    tx_packets: tuple[int, ...] = ()
    tx_bytes: tuple[int, ...] = ()
    tx_sizes: tuple[int, ...] = ()

    @classmethod
    def zero(cls, ts_ns: int, ncounters: int, ncpus: int, nsizes: int = 0, tx: bool = False) -> Snapshot:
        z, zs = (0,) * ncounters, (0,) * nsizes
        return cls(ts_ns, z, z, (0,) * ncpus, (0,) * ncpus, zs, *((z, z, zs) if tx else ((), (), ())))
