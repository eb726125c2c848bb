"""The live counter source: programs attached through BPF links, maps read with libbpf.

bcc never enters this process: bptraf.loader compiles in a child and hands back fds. Everything
downstream of `read()` runs and is tested without root or bcc.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bptraf import libbpf, limits, loader, netif, tcx
from bptraf.counters import for_action, max_ifaces, size_labels
from bptraf.errors import BptrafError, InterfaceGone, UsageError
from bptraf.flows import TableState
from bptraf.loader import FLOWS_MAX_DEFAULT, VARIANTS, Programs, check_bcc
from bptraf.model import Attachment, Snapshot
from bptraf.source import Feature, available, check

if TYPE_CHECKING:
    from bptraf.flowarray import FlowArray
    from bptraf.flowtable import FlowTables


def check_headers(release: str = platform.release()) -> None:
    """bcc compiles against the running kernel's headers; say what to install when they are missing."""
    if Path(f"/lib/modules/{release}/build").exists() or Path("/sys/kernel/kheaders.tar.xz").exists():
        return
    raise BptrafError(
        f"kernel headers for {release} not found at /lib/modules/{release}/build: install "
        f"linux-headers-{release}, or run `make setup`, which links the distribution's generic headers"
    )


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
        self._hooks: list[_Hook] = []  # one per attached interface
        self._egress: tcx.Egress | None = None  # TX counting, while its programs are loaded
        self.attachments: tuple[Attachment, ...] = ()

    # -- set-up ---------------------------------------------------------------------------------
    def open(self) -> BpfSource:
        ifindexes = [netif.resolve(name) for name in self._names]
        if not netif.has_bpf_privileges():
            raise BptrafError("root is needed (or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON): run bptraf with sudo")
        for name, ifindex in zip(self._names, ifindexes):
            self._refuse_if_taken(name, ifindex)
        check_bcc()
        check_headers()
        tx = ("egress",) if Feature.TX in self.features else ()
        limits.ensure_open_files(loader.open_files_needed(self._action, len(self._names), tx))
        try:
            self._programs = loader.open_programs(
                self._action, len(self._names), self._flows_max, self._interrupted, tx
            )
            self._maps = self._programs.maps(self._action)
            if tx:
                egress = functools.partial(self._programs.progs, "egress")
                self._egress = tcx.Egress(egress, self._programs.maps("egress"), len(self._counters), len(self._sizes))
            self.attachments = tuple(self._attach(i, n, x) for i, (n, x) in enumerate(zip(self._names, ifindexes)))
            if self._egress is not None:
                self._attach_tx(self._egress, ifindexes)
        except BaseException:
            self.close()
            raise
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

    def _refuse_if_taken(self, name: str, ifindex: int) -> None:
        try:
            ids = libbpf.xdp_prog_ids(ifindex)
        except OSError as exc:
            raise BptrafError(f"{name}: cannot query XDP state ({exc.strerror}); is BPF supported?") from None
        if ids:
            held = ", ".join(f"program id {pid} in {mode} mode" for mode, pid in ids.items())
            raise BptrafError(f"{name} already has an XDP program ({held}); bptraf will not replace it")

    def _attach(self, slot: int, name: str, ifindex: int) -> Attachment:
        fd = self._rx_progs(self.features)[slot]
        modes = ["native", "generic"] if self._mode == "auto" else [self._mode]
        for mode in modes:
            try:
                self._hooks.append(_Hook(fd, ifindex, mode, link_fd=libbpf.link_create_xdp(fd, ifindex, mode)))
                return Attachment(name, ifindex, mode, self._action, self._counters, sizes=self._sizes)
            except OSError as exc:
                if not netif.still_there(name, ifindex):
                    raise InterfaceGone(netif.fate(name, ifindex, detached=True)) from None
                if exc.errno in (errno.EBUSY, errno.EEXIST):
                    self._refuse_if_taken(name, ifindex)
                if exc.errno == errno.EINVAL and not _has_xdp_links():
                    return self._attach_netlink(fd, name, ifindex, mode)
                if mode != modes[-1]:  # auto: a driver that refuses native XDP may still run it generic
                    self._note(f"{name}: native XDP refused ({_why(exc)}); using generic mode")
                    continue
                raise BptrafError(f"{name}: cannot attach XDP in {mode} mode: {_why(exc)}{_flag_hint(mode)}") from None
        raise AssertionError("unreachable")

    def _attach_netlink(self, fd: int, name: str, ifindex: int, mode: str) -> Attachment:
        # Kernels before 5.9 have no XDP links: the program then outlives a SIGKILLed bptraf.
        self._note(f"{name}: this kernel has no XDP links; attaching by netlink (kill -9 would leave it attached)")
        try:
            libbpf.netlink_attach_xdp(fd, ifindex, mode)
        except OSError as exc:
            if exc.errno in (errno.EBUSY, errno.EEXIST):
                self._refuse_if_taken(name, ifindex)
            raise BptrafError(f"{name}: cannot attach XDP in {mode} mode: {exc.strerror}") from None
        self._hooks.append(_Hook(fd, ifindex, mode))
        return Attachment(name, ifindex, mode, self._action, self._counters, via="netlink", sizes=self._sizes)

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
            new = progs[slot]
            if hook.link_fd >= 0:
                libbpf.link_update(hook.link_fd, new)
            else:
                libbpf.netlink_replace_xdp(hook.prog_fd, new, hook.ifindex, hook.mode)
            hook.prog_fd = new
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
            detached = hook.link_fd >= 0 and _link_ifindex(hook.link_fd) == 0
            out.append(netif.fate(a.iface, a.ifindex, detached))
        return tuple(out)

    # -- tear-down ------------------------------------------------------------------------------
    def close(self) -> None:
        """Detach and free everything, in reverse order; safe to call twice."""
        if self._egress is not None:
            self._egress.close()
            self._egress = None
        while self._hooks:
            hook = self._hooks.pop()
            if hook.link_fd >= 0:
                os.close(hook.link_fd)
            else:
                # Gone with its interface, or already replaced by someone else: nothing of ours to undo.
                with contextlib.suppress(OSError):
                    libbpf.netlink_detach_xdp(hook.prog_fd, hook.ifindex, hook.mode)
        if self._programs is not None:
            self._programs.close()
            self._programs = None
        self._maps = {}

    def __enter__(self) -> BpfSource:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def _why(exc: OSError) -> str:
    """strerror, with what the errno means for an XDP attach where that is known."""
    known = {
        errno.ERANGE: "the MTU, or a veth peer's MTU, is too large for native XDP",
        errno.EOPNOTSUPP: "no native XDP in this driver",
        errno.ENOMEM: "out of memory",
    }
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"{text}: {known[exc.errno]}" if exc.errno in known else text


def _flag_hint(mode: str) -> str:
    return "; --mode generic works on any interface" if mode == "native" else ""


def _has_xdp_links() -> bool:
    """XDP links came with Linux 5.9; before that link_create says EINVAL."""
    try:
        major, minor = (int(x) for x in platform.release().split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (5, 9)


def _link_ifindex(link_fd: int) -> int:
    try:
        return libbpf.link_ifindex(link_fd)
    except OSError:
        return -1


def _built(action: str) -> Feature:
    """The feature sets kernel programs exist for (TX: kernel/egress.c, for pass mode)."""
    out = Feature.TX if action == "pass" else Feature.NONE
    for variant in VARIANTS[action]:
        out |= variant
    return out


@dataclass
class _Hook:
    """How one interface's program is attached: through a link (the kernel undoes it when bptraf
    dies), or by netlink (link_fd -1) on kernels without XDP links."""

    prog_fd: int
    ifindex: int
    mode: str
    link_fd: int = -1


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
