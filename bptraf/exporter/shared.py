"""A Source that several threads may call at once: the scrape thread beside the sampler loop and
the TUI's feature switches.

Reads alone would be safe together, but `read_flows()` deletes idle flows while it walks the table,
`set_features()` empties it, and `close()` frees the map fds a read in flight would use (and that
the kernel may hand out again). One lock around every call costs microseconds, as no call waits on
a client: the exporter renders and writes its answer after the lock is released.
"""

from __future__ import annotations

import threading

from bptraf.errors import BptrafError
from bptraf.flows import Flow
from bptraf.model import Snapshot
from bptraf.source import Feature, Source


class SourceClosed(BptrafError):
    """A read came after close()."""


class Shared:
    """Forwards the Source protocol to `source`, one call at a time."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._closed = False

    @property
    def attachments(self):
        return self._source.attachments

    @property
    def ncpus(self) -> int:
        return self._source.ncpus

    @property
    def features(self) -> Feature:
        return self._source.features

    @property
    def available(self) -> Feature:
        return self._source.available

    def __getattr__(self, name: str):
        # Anything a particular source offers beyond the protocol (a replay's position, say).
        return getattr(self._source, name)

    def _open(self) -> Source:
        if self._closed:
            raise SourceClosed("the counters were read after bptraf detached")
        return self._source

    def zero(self) -> tuple[Snapshot, ...]:
        with self._lock:
            return self._open().zero()

    def read(self) -> tuple[Snapshot, ...]:
        with self._lock:
            return self._open().read()

    def read_flows(self) -> list[Flow]:
        with self._lock:
            return self._open().read_flows()

    def set_features(self, features: Feature) -> None:
        with self._lock:
            self._open().set_features(features)

    def gone(self) -> tuple[str, ...]:
        with self._lock:
            return self._open().gone()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._source.close()
