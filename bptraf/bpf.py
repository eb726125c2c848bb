"""The live counter source: programs attached through BPF links (xdp.py, tcx.py), maps read with libbpf.

bcc never enters this process: bptraf.loader loads what a child compiled (or the cache kept).
Everything downstream of `read()` runs and is tested without root or bcc.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bptraf import libbpf, limits, loader, netif, tcx, xdp
from bptraf.build import check_headers as check_headers  # where it was
from bptraf.counters import for_action, max_ifaces, size_labels
from bptraf.errors import BptrafError, UsageError
from bptraf.flows import TableState
from bptraf.loader import FLOWS_MAX_DEFAULT, VARIANTS, Programs
from bptraf.model import Attachment, Snapshot
from bptraf.source import Feature, available, check

if TYPE_CHECKING:
    from bptraf.flowarray import FlowArray
    from bptraf.flowtable import FlowTables


class BpfSource:
    """Counts on real interfaces. open() attaches, read() samples, close() undoes exactly what open() did."""

    def __init__(
        self,
        ifaces: Sequence[str],
        action: str = "pass",
        mode: str = "auto",
        note: Callable[[str], None] = lambda _msg: None,
        clock: Callable[[], int] = time.monotonic_ns,
        flows_max: int = FLOWS_MAX_DEFAULT,
        flows_idle_s: float = 60.0,
        features: Feature = Feature.NONE,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> None:
        if not 1 <= len(ifaces) <= max_ifaces():
            raise UsageError(f"at most {max_ifaces()} interfaces at once, not {len(ifaces)}")
        self._interrupted = interrupted  # polled while the loader compiles: a stop never waits on it
        self._names = list(ifaces)
        self._action = action
        self._mode = mode
        self._note = note
        self._clock = clock
        self._counters = for_action(action)
        self.ncpus = netif.possible_cpus()
        self._programs: Programs | None = None  # the maps, and the programs loaded so far
        self._maps: dict[str, int] = {}
        self._flows_max = flows_max
        self._flows_idle_ns = int(flows_idle_s * 1e9)
        self._flow_tables: FlowTables | None = None  # made on first use, from the loaded maps
        self.flow_state = TableState()
        self._warned_full = False
        check(action, features)
        self.available = available(action) & _built(action)
        if Feature.TX not in features:  # the egress programs are loaded only when TX is asked for at start
            self.available &= ~Feature.TX
        if features & ~self.available:
            raise BptrafError(f"this build cannot count {', '.join((features & ~self.available).names())}")
        self.features = features  # the feature set whose programs are attached
        self._sizes = size_labels() if action == "pass" else ()
        self._hooks: list[xdp.Hook] = []  # one per attached interface
        self._egress: tcx.Egress | None = None  # TX counting, while its programs are loaded
        self.attachments: tuple[Attachment, ...] = ()

    # -- set-up ---------------------------------------------------------------------------------
    def open(self) -> BpfSource:
        ifindexes = [netif.resolve(name) for name in self._names]
        if not netif.has_bpf_privileges():
            raise BptrafError("root is needed (or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON): run bptraf with sudo")
        for name, ifindex in zip(self._names, ifindexes):
            xdp.refuse_if_taken(name, ifindex)
        tx = ("egress",) if Feature.TX in self.features else ()
        limits.ensure_open_files(loader.open_files_needed(self._action, len(self._names), tx))
        warm = _importing("bptraf.flowtable") if Feature.FLOWS in self.features else None  # numpy, for flows
        try:
            self._programs = loader.open_programs(
                self._action, len(self._names), self._flows_max, self._interrupted, tx
            )
            self._maps = self._programs.maps(self._action)
            start = [(self._action, self.features & ~Feature.TX)] + [("egress", tcx.variant(self.features))] * len(tx)
            self._programs.load(start)  # the other variants load when first switched on
            if tx:
                egress = functools.partial(self._programs.progs, "egress")
                self._egress = tcx.Egress(egress, self._programs.maps("egress"), len(self._counters), len(self._sizes))
            self.attachments = tuple(self._attach(i, n, x) for i, (n, x) in enumerate(zip(self._names, ifindexes)))
            if self._egress is not None:
                self._attach_tx(self._egress, ifindexes)
        except BaseException:
            self.close()
            raise
        finally:
            if warm is not None:
                warm.join()
        return self

    def _attach_tx(self, egress: tcx.Egress, ifindexes: Sequence[int]) -> None:
        try:
            egress.attach(ifindexes, self._names, self.features, self.ncpus)
        except tcx.TcxMissing as exc:
            self._note(str(exc))
            egress.close()
            self._egress = None
            self.features &= ~Feature.TX
            self.available &= ~Feature.TX

    def _attach(self, slot: int, name: str, ifindex: int) -> Attachment:
        hook = xdp.attach(self._rx_progs(self.features)[slot], name, ifindex, self._mode, self._note)
        self._hooks.append(hook)
        return Attachment(name, ifindex, hook.mode, self._action, self._counters, via=hook.via, sizes=self._sizes)

    # -- sampling -------------------------------------------------------------------------------
    def zero(self) -> tuple[Snapshot, ...]:
        """The state at attach time: fresh maps hold zeros."""
        ts = self._clock()
        tx = Feature.TX in self.features
        return tuple(Snapshot.zero(ts, len(self._counters), self.ncpus, len(self._sizes), tx) for _ in self.attachments)

    def read(self) -> tuple[Snapshot, ...]:
        """One snapshot per attached interface: totals since attach, summed over the possible CPUs."""
        stride = len(self._counters) * 2 + len(self._sizes)
        buf = (ctypes.c_uint64 * (self.ncpus * stride))()
        raw = []
        for slot in range(len(self.attachments)):
            libbpf.map_lookup(self._maps["stats"], slot, buf)
            raw.append(buf[:])
        egress = self._egress if Feature.TX in self.features else None
        tx = egress.read(len(raw), self.ncpus) if egress else []
        ts = self._clock()  # stamp right after the reads, before any summing
        snaps = tuple(_snapshot(ts, vals, stride, len(self._counters)) for vals in raw)
        if egress:
            snaps = tuple(replace(s, **egress.totals(vals)) for s, vals in zip(snaps, tx))
        return snaps

    # -- features -------------------------------------------------------------------------------
    def set_features(self, features: Feature) -> None:
        """Swap every interface's program for the one built with `features`, atomically per interface."""
        check(self._action, features)
        if features & ~Feature.TX not in VARIANTS[self._action] or features & ~self.available:
            raise BptrafError(f"{self._action} mode cannot count {', '.join(features.names())}")
        progs = self._rx_progs(features)  # loaded now if they were not yet: before anything is swapped
        if self._egress is not None:
            self._egress.switch(self.features, features, [a.ifindex for a in self.attachments], self._names, self.ncpus)
        for slot, hook in enumerate(self._hooks):
            xdp.swap(hook, progs[slot])
        dropped_flows = Feature.FLOWS in self.features and Feature.FLOWS not in features
        self.features = features
        if dropped_flows:  # nothing adds to the tables now: empty them rather than let them age
            self._tables().clear()

    def _rx_progs(self, features: Feature) -> list[int]:
        assert self._programs is not None
        return self._programs.progs(self._action, features & ~Feature.TX)

    def _tables(self) -> FlowTables:
        from bptraf.flowtable import FlowTables  # numpy loads only when flows are counted

        if self._flow_tables is None:
            self._flow_tables = FlowTables(self._maps, self._flows_max, self.ncpus, self._flows_idle_ns)
        return self._flow_tables

    def read_flows(self) -> FlowArray:
        """Every flow's totals; flows idle for longer than flows_idle_s are deleted instead, and a full
        table loses its least active flows (said once, through `note`)."""
        if Feature.FLOWS not in self.features:
            return []
        found, self.flow_state = self._tables().read(time.monotonic_ns())
        if self.flow_state.full and not self._warned_full:
            self._warned_full = True
            self._note(
                f"the flow table is full (--flows-max {self._flows_max}): the least active flows are evicted "
                "each interval and new flows wait for room; the totals stay exact"
            )
        from bptraf.flowarray import FlowArray

        return FlowArray(found)

    def gone(self) -> tuple[str, ...]:
        """What became of each watched interface that is no longer there as attached, in words."""
        out = []
        for a, hook in zip(self.attachments, self._hooks):
            if netif.still_there(a.iface, a.ifindex):
                continue
            out.append(netif.fate(a.iface, a.ifindex, xdp.detached(hook)))
        return tuple(out)

    # -- tear-down ------------------------------------------------------------------------------
    def close(self) -> None:
        """Detach and free everything, in reverse order; safe to call twice."""
        if self._egress is not None:
            self._egress.close()
            self._egress = None
        while self._hooks:
            xdp.detach(self._hooks.pop())
        self._flow_tables = None
        if self._programs is not None:
            self._programs.close()
            self._programs = None
        self._maps = {}

    def __enter__(self) -> BpfSource:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def _importing(module: str) -> threading.Thread:
    """Import `module` in a thread: a slow import (numpy) overlaps the verifier, which holds no GIL.
    A failure is left for the import where the module is used to raise."""

    def run() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    thread = threading.Thread(target=run, name=f"import {module}")
    thread.start()
    return thread


def _built(action: str) -> Feature:
    """The feature sets kernel programs exist for (TX: kernel/egress.c, for pass mode)."""
    out = Feature.TX if action == "pass" else Feature.NONE
    for variant in VARIANTS[action]:
        out |= variant
    return out


def _snapshot(ts: int, vals: list[int], stride: int, ncounters: int) -> Snapshot:
    """Sum one map value's per-CPU copies: each is ncounters (packets, bytes) pairs, then the size buckets."""
    return Snapshot(
        ts_ns=ts,
        packets=tuple(sum(vals[2 * i :: stride]) for i in range(ncounters)),
        bytes=tuple(sum(vals[2 * i + 1 :: stride]) for i in range(ncounters)),
        cpu_packets=tuple(vals[0::stride]),
        cpu_bytes=tuple(vals[1::stride]),
        sizes=tuple(sum(vals[i::stride]) for i in range(2 * ncounters, stride)),
    )
