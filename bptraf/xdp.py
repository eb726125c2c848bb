"""Receive counting's hook: an XDP program on each watched interface, through a BPF link where the
kernel has them (it detaches the program when bptraf dies, kill -9 included), by netlink before 5.9.
"""

from __future__ import annotations

import contextlib
import errno
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass

from bptraf import libbpf, netif
from bptraf.errors import BptrafError, InterfaceGone


@dataclass
class Hook:
    """How one interface's program is attached: through a link, or by netlink (link_fd -1)."""

    prog_fd: int
    ifindex: int
    mode: str  # "native" | "generic"
    link_fd: int = -1

    @property
    def via(self) -> str:
        return "link" if self.link_fd >= 0 else "netlink"


def refuse_if_taken(name: str, ifindex: int) -> None:
    """bptraf never replaces another XDP program: say whose it is."""
    try:
        ids = libbpf.xdp_prog_ids(ifindex)
    except OSError as exc:
        raise BptrafError(f"{name}: cannot query XDP state ({exc.strerror}); is BPF supported?") from None
    if ids:
        held = ", ".join(f"program id {pid} in {mode} mode" for mode, pid in ids.items())
        raise BptrafError(f"{name} already has an XDP program ({held}); bptraf will not replace it")


def attach(fd: int, name: str, ifindex: int, mode: str, note: Callable[[str], None]) -> Hook:
    """Attach program `fd` in `mode` ("native", "generic", or "auto": native, else generic)."""
    modes = ["native", "generic"] if mode == "auto" else [mode]
    for mode in modes:
        try:
            return Hook(fd, ifindex, mode, link_fd=libbpf.link_create_xdp(fd, ifindex, mode))
        except OSError as exc:
            if not netif.still_there(name, ifindex):
                raise InterfaceGone(netif.fate(name, ifindex, detached=True)) from None
            if exc.errno in (errno.EBUSY, errno.EEXIST):
                refuse_if_taken(name, ifindex)
            if exc.errno == errno.EINVAL and not _has_xdp_links():
                return _attach_netlink(fd, name, ifindex, mode, note)
            if mode != modes[-1]:  # auto: a driver that refuses native XDP may still run it generic
                note(f"{name}: native XDP refused ({_why(exc)}); using generic mode")
                continue
            raise BptrafError(f"{name}: cannot attach XDP in {mode} mode: {_why(exc)}{_flag_hint(mode)}") from None
    raise AssertionError("unreachable")


def _attach_netlink(fd: int, name: str, ifindex: int, mode: str, note: Callable[[str], None]) -> Hook:
    # Kernels before 5.9 have no XDP links: the program then outlives a SIGKILLed bptraf.
    note(f"{name}: this kernel has no XDP links; attaching by netlink (kill -9 would leave it attached)")
    try:
        libbpf.netlink_attach_xdp(fd, ifindex, mode)
    except OSError as exc:
        if exc.errno in (errno.EBUSY, errno.EEXIST):
            refuse_if_taken(name, ifindex)
        raise BptrafError(f"{name}: cannot attach XDP in {mode} mode: {exc.strerror}") from None
    return Hook(fd, ifindex, mode)


def swap(hook: Hook, new_fd: int) -> None:
    """Put program `new_fd` behind the hook; the interface never goes without a program."""
    if hook.link_fd >= 0:
        libbpf.link_update(hook.link_fd, new_fd)
    else:
        libbpf.netlink_replace_xdp(hook.prog_fd, new_fd, hook.ifindex, hook.mode)
    hook.prog_fd = new_fd


def detach(hook: Hook) -> None:
    if hook.link_fd >= 0:
        os.close(hook.link_fd)
    else:
        # Gone with its interface, or already replaced by someone else: nothing of ours to undo.
        with contextlib.suppress(OSError):
            libbpf.netlink_detach_xdp(hook.prog_fd, hook.ifindex, hook.mode)


def detached(hook: Hook) -> bool:
    """Whether the kernel detached the link (its interface was deleted)."""
    if hook.link_fd < 0:
        return False
    try:
        return libbpf.link_ifindex(hook.link_fd) == 0
    except OSError:
        return False


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
