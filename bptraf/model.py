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

    @classmethod
    def zero(cls, ts_ns: int, ncounters: int, ncpus: int, nsizes: int = 0) -> Snapshot:
        return cls(ts_ns, (0,) * ncounters, (0,) * ncounters, (0,) * ncpus, (0,) * ncpus, (0,) * nsizes)


NONE: frozenset[str] = frozenset()
SIZES, FLOWS = frozenset({"sizes"}), frozenset({"flows"})


class FeatureSwitch:
    """The sizes and flows switches of a source, over its `features` set; the source supplies
    set_features(), which makes the kernel side match."""

    features: frozenset[str] = NONE

    def set_features(self, features: frozenset[str]) -> None:
        raise NotImplementedError

    @property
    def flows_on(self) -> bool:
        return "flows" in self.features

    @property
    def sizes_on(self) -> bool:
        return "sizes" in self.features

    def set_flows(self, on: bool) -> None:
        self.set_features(self.features | FLOWS if on else self.features - FLOWS)

    def set_sizes(self, on: bool) -> None:
        self.set_features(self.features | SIZES if on else self.features - SIZES)
