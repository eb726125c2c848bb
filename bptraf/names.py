"""Reverse DNS for the flows view: off unless asked, never on the UI loop, every answer cached."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

_MAX_CACHED = 65536


def _lookup(addr: str) -> str | None:
    try:
        return socket.gethostbyaddr(addr)[0]
    except OSError:
        return None


class Resolver:
    """name(addr) answers at once: the cached name, else the address itself while a lookup runs
    in a small thread pool (a slow or unreachable DNS server only delays names, never the screen)."""

    def __init__(self, lookup: Callable[[str], str | None] = _lookup, workers: int = 2) -> None:
        self._lookup = lookup
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bptraf-dns")
        self._names: dict[str, str | None] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def name(self, addr: str) -> str:
        with self._lock:
            if addr in self._names:
                return self._names[addr] or addr
            if addr not in self._pending:
                self._pending.add(addr)
                self._pool.submit(self._resolve, addr)
        return addr

    def _resolve(self, addr: str) -> None:
        found = self._lookup(addr)
        with self._lock:
            if len(self._names) >= _MAX_CACHED:
                self._names.clear()
            self._names[addr] = found
            self._pending.discard(addr)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
