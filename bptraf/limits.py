"""The limits bptraf's start-up can run into, and the words for them: open files, address space, and
the memory cgroup's OOM killer.

The loader child dies without a word when the OOM killer takes it; comparing the kill counters from
before and after is how bptraf can say so instead of guessing.
"""

from __future__ import annotations

import resource
from pathlib import Path

from bptraf.errors import BptrafError

CGROUP = Path("/sys/fs/cgroup")
COMPILE_MIB = 300  # address space the loader maps to compile (LLVM): bcc 0.29 failed at 275 MiB, not 300


def open_files() -> str:
    return f"`ulimit -n` is {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}"


def ensure_open_files(needed: int) -> None:
    """Raise the soft limit on open files as far as the hard one allows; refuse if that is too few."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BptrafError(f"{open_files()}, and bptraf needs {needed} open files here: raise it (`ulimit -n 1024`)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == resource.RLIM_INFINITY else hard, hard))


def address_space_hint() -> str:
    """`; ulimit -v is ...` when an address-space limit is set (it stops the compiler), else ``."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return ""
    return f"; `ulimit -v` is {soft // 1024} KiB, and compiling needs about {COMPILE_MIB} MiB of address space"


def memory_cgroup(proc: Path = Path("/proc/self/cgroup")) -> Path | None:
    """The directory of this process's memory cgroup: v1's memory controller, else v2's unified one."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP / "memory" / path.lstrip("/")
    for line in lines:
        if line.startswith("0::"):
            return CGROUP / line[3:].lstrip("/")
    return None


def counter(path: Path, key: str) -> int:
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
    total = counter(Path("/proc/vmstat"), "oom_kill")
    cg = memory_cgroup()
    if cg is not None:
        total += counter(cg / "memory.events", "oom_kill") + counter(cg / "memory.oom_control", "oom_kill")
    return total


def memory_limit() -> str:
    """The memory limit that applies, in words."""
    cg = memory_cgroup()
    if cg is not None:
        for name in ("memory.max", "memory.limit_in_bytes"):
            try:
                limit = (cg / name).read_text().strip()
            except OSError:
                continue
            if limit != "max" and int(limit) < 1 << 60:
                rel = cg.relative_to(CGROUP / "memory" if name == "memory.limit_in_bytes" else CGROUP)
                return f"memory cgroup /{rel} is limited to {int(limit) >> 20} MiB, too little for compiling"
    return "the system ran out of memory while compiling"
