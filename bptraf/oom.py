"""Out-of-memory kills: how many so far, in this process's memory cgroup (v1 or v2) and system-wide.

The loader child dies without a word when the OOM killer takes it; comparing the counters from before
and after is how bptraf can say so instead of guessing.
"""

from __future__ import annotations

from pathlib import Path

_CGROUP = Path("/sys/fs/cgroup")


def _memory_cgroup(proc: Path = Path("/proc/self/cgroup")) -> Path | None:
    """The directory of this process's memory cgroup: v1's memory controller, else v2's unified one."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return _CGROUP / "memory" / path.lstrip("/")
    for line in lines:
        if line.startswith("0::"):
            return _CGROUP / line[3:].lstrip("/")
    return None


def _counter(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def kills() -> int:
    """OOM kills so far: the memory cgroup's (v2 memory.events, v1 memory.oom_control) plus the system's."""
    total = _counter(Path("/proc/vmstat"), "oom_kill")
    cg = _memory_cgroup()
    if cg is not None:
        total += _counter(cg / "memory.events", "oom_kill") + _counter(cg / "memory.oom_control", "oom_kill")
    return total


def where() -> str:
    """The memory limit that applies, in words."""
    cg = _memory_cgroup()
    if cg is not None:
        for name in ("memory.max", "memory.limit_in_bytes"):
            try:
                limit = (cg / name).read_text().strip()
            except OSError:
                continue
            if limit != "max" and int(limit) < 1 << 60:
                rel = cg.relative_to(_CGROUP / "memory" if name == "memory.limit_in_bytes" else _CGROUP)
                return f"memory cgroup /{rel} is limited to {int(limit) >> 20} MiB, too little for compiling"
    return "the system ran out of memory while compiling"
