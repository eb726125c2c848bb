"""TX counting: kernel/egress.c's programs on every watched interface's tcx egress chain.

Each program hangs off a tcx link (Linux 6.6+), appended after any tcx program already there, so
the kernel detaches it when bptraf's last fd goes, kill -9 included. Kernels without tcx get RX
only: a clsact filter would outlive a killed bptraf, so there is no fallback.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable, Sequence

from bptraf import libbpf
from bptraf.errors import BptrafError
from bptraf.source import Feature

NO_TCX = "TX per protocol needs Linux 6.6+ (tcx egress links); counting RX only"


class TcxMissing(BptrafError):
    """This kernel has no tcx hook."""


def variant(features: Feature) -> Feature:
    """The egress program built for `features`: the size histogram, and flows (sent frames add to each
    conversation's tx side)."""
    return features & (Feature.SIZES | Feature.FLOWS)


class Egress:
    """The egress programs and their map, both owned by the caller (`progs` gives a feature set's
    program fds by slot, loading them when first asked); attach() hangs them on the watched
    interfaces, slot i on the i-th."""

    def __init__(
        self, progs: Callable[[Feature], list[int]], maps: dict[str, int], ncounters: int, nsizes: int
    ) -> None:
        self._progs = progs
        self._map = maps["stats"]
        self._links: list[int] = []  # link fd by slot, while attached
        self._stride = ncounters * 2 + nsizes
        self._ncounters = ncounters

    @property
    def attached(self) -> bool:
        return bool(self._links)

    def attach(self, ifindexes: Sequence[int], names: Sequence[str], features: Feature, ncpus: int) -> None:
        """Count from zero on every interface; raises TcxMissing where the kernel has no tcx."""
        progs = self._progs(variant(features))
        try:
            for slot, (ifindex, name) in enumerate(zip(ifindexes, names)):
                libbpf.map_zero(self._map, slot, self._stride * 8 * ncpus)
                try:
                    self._links.append(libbpf.link_create_tcx_egress(progs[slot], ifindex))
                except OSError as exc:
                    if exc.errno == errno.EINVAL:
                        raise TcxMissing(NO_TCX) from None
                    raise BptrafError(f"{name}: cannot attach the egress program with tcx: {exc.strerror}") from None
        except BaseException:
            self.detach()
            raise

    def switch(self, old: Feature, new: Feature, ifindexes: Sequence[int], names: Sequence[str], ncpus: int) -> None:
        """Follow a change of feature set: attach, swap or detach; TX counts from zero each time it comes on."""
        if Feature.TX not in new:
            self.detach()
        elif not self.attached:
            self.attach(ifindexes, names, new, ncpus)
        elif variant(new) != variant(old):
            self.swap(new)

    def swap(self, features: Feature) -> None:
        """Put the program built for `features` behind every link; counting never stops."""
        progs = self._progs(variant(features))
        for slot, link in enumerate(self._links):
            libbpf.link_update(link, progs[slot])

    def detach(self) -> None:
        while self._links:
            os.close(self._links.pop())

    def read(self, nslots: int, ncpus: int) -> list[list[int]]:
        """Every slot's map value as read: ncpus copies, each counters then size buckets."""
        buf = (ctypes.c_uint64 * (ncpus * self._stride))()
        out = []
        for slot in range(nslots):
            libbpf.map_lookup(self._map, slot, buf)
            out.append(buf[:])
        return out

    def totals(self, vals: list[int]) -> dict[str, tuple[int, ...]]:
        """One slot's value summed over CPUs, as Snapshot's tx_* fields."""
        stride, n = self._stride, self._ncounters
        return {
            "tx_packets": tuple(sum(vals[2 * i :: stride]) for i in range(n)),
            "tx_bytes": tuple(sum(vals[2 * i + 1 :: stride]) for i in range(n)),
            "tx_sizes": tuple(sum(vals[i::stride]) for i in range(2 * n, stride)),
        }

    def close(self) -> None:
        """Detach; safe to call twice. The programs and the map are the caller's to free."""
        self.detach()
