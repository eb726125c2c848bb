"""Compiled Images kept between runs, so start-up skips the compiler when nothing it depends on changed.

The key hashes every file in kernel/, the build flags and entry points, the running kernel's
/proc/version and bcc's version: a change to any of them compiles afresh. The programs still go through
the verifier at every load. The directory is root's /var/cache/bptraf (or ~/.cache/bptraf); an entry is
used only if it and its directory belong to this user and nobody else can write them, since what is
in it is loaded into the kernel. BPTRAF_CACHE_DIR names another directory; empty, it turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path

from bptraf import image
from bptraf.build import Recipe, bcc_version
from bptraf.kernel_src import kernel_dir

KEEP = 16  # entries kept; the oldest go first
ENV = "BPTRAF_CACHE_DIR"


def directory() -> Path | None:
    """Where Images are kept; None when the cache is off."""
    if ENV in os.environ:
        return Path(os.environ[ENV]) if os.environ[ENV] else None
    if os.geteuid() == 0:
        return Path("/var/cache/bptraf")
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bptraf"


def key(recipe: Recipe) -> str:
    """What the compiled Image depends on, hashed."""
    kdir = kernel_dir()
    kernel = ""
    sources = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(kdir.iterdir()) if p.is_file()}
    with contextlib.suppress(OSError):
        kernel = Path("/proc/version").read_text()
    what = {
        "format": image.FORMAT,
        "sources": sources,
        "recipe": vars(recipe),
        "cflags": [f for f in recipe.cflags() if not f.startswith("-I")],  # the path is not the content
        "kernel": kernel,
        "bcc": bcc_version(),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _trusted(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def get(name: str) -> bytes | None:
    """The entry `name`, if there is one this user can trust."""
    where = directory()
    if where is None:
        return None
    try:
        if not _trusted(os.stat(where)):
            return None
        fd = os.open(where / name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not (stat.S_ISREG(os.fstat(fd).st_mode) and _trusted(os.fstat(fd))):
            return None
        with contextlib.suppress(OSError):
            os.utime(fd)  # used: the last to be pruned
        return f.read()


def put(name: str, data: bytes) -> None:
    """Keep `data` as entry `name`, best effort: a cache that cannot be written only costs time."""
    where = directory()
    if where is None:
        return
    with contextlib.suppress(OSError):
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(os.stat(where)):
            return
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".new-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, where / name)
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(where)


def _prune(where: Path) -> None:
    """Keep the KEEP most recently used entries, and no half-written one from a run that was killed."""
    entries = sorted((p for p in where.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    stale = [p for p in where.glob(".new-*") if p.stat().st_mtime < time.time() - 3600]
    for old in entries[:-KEEP] + stale:
        with contextlib.suppress(OSError):
            old.unlink()
