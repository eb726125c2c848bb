"""Network interfaces: validate names, find the default-route interface, notice removal."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from bptraf.errors import UsageError

IFNAMSIZ = 16


def existing() -> list[str]:
    return sorted(name for _idx, name in socket.if_nameindex())


def resolve(name: str) -> int:
    """The ifindex of a valid, existing interface name, or a UsageError saying why not."""
    raw = name.encode(errors="surrogateescape")
    if not raw or len(raw) >= IFNAMSIZ or b"/" in raw or any(c.isspace() for c in name) or name in (".", ".."):
        raise UsageError(f"invalid interface name {name!r}: 1-15 bytes, no '/' or whitespace")
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise UsageError(f"no interface {name!r}; interfaces here: {', '.join(existing())}") from None


def default_route_iface(proc: Path = Path("/proc/net")) -> str | None:
    """The interface of the IPv4 (else IPv6) default route with the lowest metric."""
    best: tuple[int, str] | None = None
    try:
        for line in (proc / "route").read_text().splitlines()[1:]:
            f = line.split()
            if len(f) >= 8 and f[1] == "00000000" and f[7] == "00000000" and int(f[3], 16) & 1:
                cand = (int(f[6]), f[0])
                best = cand if best is None or cand < best else best
    except OSError:
        pass
    if best is None:
        try:
            for line in (proc / "ipv6_route").read_text().splitlines():
                f = line.split()
                if len(f) >= 10 and f[0] == "0" * 32 and f[1] == "00" and f[9] != "lo":
                    cand = (int(f[5], 16), f[9])
                    best = cand if best is None or cand < best else best
        except OSError:
            pass
    return best[1] if best else None


def still_there(name: str, ifindex: int) -> bool:
    """Whether `name` still names the interface bptraf attached to."""
    try:
        return socket.if_nametoindex(name) == ifindex
    except OSError:
        return False


def fate(name: str, ifindex: int, detached: bool) -> str:
    """What became of interface `name` (ifindex `ifindex`), which bptraf attached to, in one sentence.

    `detached`: the kernel took bptraf's program off it (its link no longer points at an interface).
    """
    try:
        now = socket.if_indextoname(ifindex)
    except OSError:
        now = None
    if now is not None:
        return f"{name} was renamed {now} (ifindex {ifindex}) while bptraf watched it"
    if detached:
        return f"{name} (ifindex {ifindex}) was deleted; the kernel detached bptraf's program"
    return (
        f"{name} (ifindex {ifindex}) was moved to another network namespace; "
        "bptraf's program went with it, and is detached as bptraf exits"
    )


def speed_mbps(name: str, sys_net: Path = Path("/sys/class/net")) -> int | None:
    """The link speed the driver reports (what ethtool shows), in Mb/s; None when unknown or down."""
    try:
        value = int((sys_net / name / "speed").read_text().strip())
    except (OSError, ValueError):
        return None
    return value if 0 < value < 0xFFFFFFFF else None


def possible_cpus(path: str = "/sys/devices/system/cpu/possible") -> int:
    """How many CPUs per-CPU maps hold values for: the possible ones, not just the online ones."""
    total = 0
    for part in Path(path).read_text().strip().split(","):
        lo, _, hi = part.partition("-")
        total += int(hi or lo) - int(lo) + 1
    return total


def has_bpf_privileges() -> bool:
    """Root, or the capabilities that loading and attaching XDP programs takes."""
    if os.geteuid() == 0:
        return True
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                caps = int(line.split()[1], 16)
                cap_sys_admin, cap_net_admin, cap_perfmon, cap_bpf = 21, 12, 38, 39
                needed = (1 << cap_bpf) | (1 << cap_net_admin) | (1 << cap_perfmon)
                return bool(caps & (1 << cap_sys_admin)) or caps & needed == needed
    except OSError:
        pass
    return False
