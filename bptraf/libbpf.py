"""The few libbpf.so.1 calls bptraf needs that bcc does not offer: BPF links, XDP queries, map reads."""

from __future__ import annotations

import ctypes
import errno
import os
from functools import cache

BPF_XDP = 37  # enum bpf_attach_type
BPF_TCX_EGRESS = 47  # Linux 6.6+; libbpf 1.1 passes it through unnamed
XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2
XDP_FLAGS_REPLACE = 1 << 4
MODE_FLAGS = {"generic": XDP_FLAGS_SKB_MODE, "native": XDP_FLAGS_DRV_MODE}


class LibbpfError(OSError):
    """A libbpf call failed; errno is set."""


class _LinkCreateOpts(ctypes.Structure):
    # The leading fields of struct bpf_link_create_opts; libbpf treats fields
    # past `sz` as zero, so this prefix is a valid, forward-compatible opts.
    _fields_ = [("sz", ctypes.c_size_t), ("flags", ctypes.c_uint32)]


class _XdpAttachOpts(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t), ("old_prog_fd", ctypes.c_int)]


@cache
def lib() -> ctypes.CDLL:
    so = ctypes.CDLL("libbpf.so.1", use_errno=True)
    so.bpf_link_create.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(_LinkCreateOpts),
    ]
    so.bpf_xdp_query_id.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_uint32)]
    so.bpf_map_lookup_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    so.libbpf_version_string.restype = ctypes.c_char_p
    so.bpf_xdp_attach.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.POINTER(_XdpAttachOpts)]
    so.bpf_link_update.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    so.bpf_map_delete_elem.argtypes = [ctypes.c_int, ctypes.c_void_p]
    so.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    so.bpf_map_lookup_batch.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32), ctypes.c_void_p]  # fmt: skip
    so.bpf_prog_test_run_opts.argtypes = [ctypes.c_int, ctypes.c_void_p]
    return so


def _errno(ret: int) -> int:
    """The error of a libbpf return value (libbpf 1.x returns -errno and sets errno), 0 for success."""
    if ret >= 0:
        return 0
    return -ret if ret != -1 else (ctypes.get_errno() or errno.EPERM)


def _check(ret: int, what: str) -> int:
    code = _errno(ret)
    if code:
        raise LibbpfError(code, f"{what}: {os.strerror(code)}")
    return ret


def version() -> str:
    return lib().libbpf_version_string().decode()


def link_create_xdp(prog_fd: int, ifindex: int, mode: str) -> int:
    """Attach an XDP program through a BPF link; the kernel detaches it when the fd closes."""
    opts = _LinkCreateOpts(ctypes.sizeof(_LinkCreateOpts), MODE_FLAGS[mode])
    return _check(lib().bpf_link_create(prog_fd, ifindex, BPF_XDP, ctypes.byref(opts)), "link")


def link_create_tcx_egress(prog_fd: int, ifindex: int) -> int:
    """Append a SCHED_CLS program to an interface's tcx egress chain through a BPF link.

    No flags: the kernel appends after the programs already there and replaces none; the link
    goes when its last fd closes, on kill -9 too. Kernels before 6.6 refuse the attach type (EINVAL).
    """
    opts = _LinkCreateOpts(ctypes.sizeof(_LinkCreateOpts), 0)
    return _check(lib().bpf_link_create(prog_fd, ifindex, BPF_TCX_EGRESS, ctypes.byref(opts)), "tcx link")


def map_zero(map_fd: int, key: int, size: int) -> None:
    """Write zeros to one element of an array map (`size` bytes: every CPU's copy of a per-CPU map)."""
    k = ctypes.c_uint32(key)
    _check(lib().bpf_map_update_elem(map_fd, ctypes.byref(k), ctypes.create_string_buffer(size), 0), "map write")


def netlink_attach_xdp(prog_fd: int, ifindex: int, mode: str) -> None:
    """The pre-link attach (kernels before 5.9): fails rather than replace another program."""
    flags = MODE_FLAGS[mode] | XDP_FLAGS_UPDATE_IF_NOEXIST
    _check(lib().bpf_xdp_attach(ifindex, prog_fd, flags, None), "netlink attach")


def link_update(link_fd: int, new_prog_fd: int) -> None:
    """Swap the program behind a link; the interface never goes without one."""
    _check(lib().bpf_link_update(link_fd, new_prog_fd, None), "link update")


def netlink_replace_xdp(old_prog_fd: int, new_prog_fd: int, ifindex: int, mode: str) -> None:
    """Swap a netlink-attached program, only if `old_prog_fd`'s program is still the one attached."""
    opts = _XdpAttachOpts(ctypes.sizeof(_XdpAttachOpts), old_prog_fd)
    flags = MODE_FLAGS[mode] | XDP_FLAGS_REPLACE
    _check(lib().bpf_xdp_attach(ifindex, new_prog_fd, flags, ctypes.byref(opts)), "replace")


def netlink_detach_xdp(prog_fd: int, ifindex: int, mode: str) -> None:
    """Detach only if `prog_fd`'s program is still the one attached: never remove someone else's."""
    opts = _XdpAttachOpts(ctypes.sizeof(_XdpAttachOpts), prog_fd)
    _check(lib().bpf_xdp_attach(ifindex, -1, MODE_FLAGS[mode] | XDP_FLAGS_REPLACE, ctypes.byref(opts)), "detach")


def xdp_prog_ids(ifindex: int) -> dict[str, int]:
    """Program ids attached to an interface, by mode (native, generic); empty if none."""
    ids = {}
    for mode, flag in MODE_FLAGS.items():
        prog_id = ctypes.c_uint32(0)
        _check(lib().bpf_xdp_query_id(ifindex, flag, ctypes.byref(prog_id)), "query")
        if prog_id.value:
            ids[mode] = prog_id.value
    return ids


def map_lookup(map_fd: int, key: int, value: ctypes.Array) -> None:
    """Read one element of an array map into `value` (per-CPU maps: all CPUs at once)."""
    k = ctypes.c_uint32(key)
    _check(lib().bpf_map_lookup_elem(map_fd, ctypes.byref(k), ctypes.byref(value)), "map read")


BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1


class XdpMd(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint32)
        for name in ("data", "data_end", "data_meta", "ingress_ifindex", "rx_queue_index", "egress_ifindex")
    ]


class _TestRunOpts(ctypes.Structure):
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


def test_run_xdp(
    prog_fd: int, frame: bytes, repeat: int, live_ifindex: int = 0, batch_size: int = 0
) -> tuple[int, int]:
    """BPF_PROG_TEST_RUN an XDP program on `frame`: (return value, average ns per run).

    With live_ifindex, frames are really sent (BPF_F_TEST_XDP_LIVE_FRAMES) as if received on
    that interface of the caller's network namespace.
    """
    buf = ctypes.create_string_buffer(frame, len(frame))
    opts = _TestRunOpts(
        sz=ctypes.sizeof(_TestRunOpts), data_in=ctypes.addressof(buf), data_size_in=len(frame), repeat=repeat
    )
    ctx = XdpMd(data=0, data_end=len(frame), ingress_ifindex=live_ifindex)
    if live_ifindex:
        opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES
        opts.batch_size = batch_size
        opts.ctx_in = ctypes.addressof(ctx)
        opts.ctx_size_in = ctypes.sizeof(ctx)
    else:
        out = ctypes.create_string_buffer(len(frame) + 256)
        opts.data_out = ctypes.addressof(out)
        opts.data_size_out = len(out)
    _check(lib().bpf_prog_test_run_opts(prog_fd, ctypes.byref(opts)), "test run")
    return opts.retval, opts.duration


def test_run_skb(prog_fd: int, frame: bytes, repeat: int, ctx: bytes = b"") -> tuple[int, int]:
    """BPF_PROG_TEST_RUN a tc (SCHED_CLS) program on `frame`, with `ctx` as the leading bytes of its
    struct __sk_buff (the kernel takes gso_segs, gso_size, wire_len and a few more from it):
    (return value, average ns per run)."""
    buf = ctypes.create_string_buffer(frame, len(frame))
    out = ctypes.create_string_buffer(len(frame) + 256)
    opts = _TestRunOpts(sz=ctypes.sizeof(_TestRunOpts), data_in=ctypes.addressof(buf), data_size_in=len(frame),
                        data_out=ctypes.addressof(out), data_size_out=len(out), repeat=repeat)  # fmt: skip
    if ctx:
        ctx_buf = ctypes.create_string_buffer(ctx, len(ctx))
        opts.ctx_in, opts.ctx_size_in = ctypes.addressof(ctx_buf), len(ctx)
    _check(lib().bpf_prog_test_run_opts(prog_fd, ctypes.byref(opts)), "test run")
    return ctypes.c_int32(opts.retval).value, opts.duration


# -- map updates and program info -----------------------------------------------------------


def map_update(map_fd: int, key: ctypes.Array, value: ctypes.Array) -> None:
    so = lib()
    so.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
    _check(so.bpf_map_update_elem(map_fd, ctypes.byref(key), ctypes.byref(value), 0), "map update")


_PROG_INFO_SIZE = 232  # struct bpf_prog_info up to attach_btf_id and its pad (linux/bpf.h, 5.16+)
_VERIFIED_INSNS_OFFSET = 216


def prog_verified_insns(prog_fd: int) -> int:
    """How many instructions the verifier walked to accept the program (bpf_prog_info.verified_insns)."""
    so = lib()
    so.bpf_obj_get_info_by_fd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    buf = ctypes.create_string_buffer(_PROG_INFO_SIZE)
    size = ctypes.c_uint32(_PROG_INFO_SIZE)
    _check(so.bpf_obj_get_info_by_fd(prog_fd, buf, ctypes.byref(size)), "program info")
    if size.value < _VERIFIED_INSNS_OFFSET + 4:
        raise LibbpfError(errno.EOPNOTSUPP, "program info: this kernel does not report verified instructions")
    return int.from_bytes(buf.raw[_VERIFIED_INSNS_OFFSET : _VERIFIED_INSNS_OFFSET + 4], "little")


class _XdpLinkInfo(ctypes.Structure):
    # struct bpf_link_info up to the xdp member of its union (which is 8-byte aligned, at offset 16).
    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("prog_id", ctypes.c_uint32),
                ("_pad", ctypes.c_uint32), ("ifindex", ctypes.c_uint32), ("_rest", ctypes.c_uint8 * 44)]  # fmt: skip


def link_ifindex(link_fd: int) -> int:
    """The ifindex an XDP link is attached to; 0 once the kernel detached it (its interface was deleted)."""
    so = lib()
    so.bpf_obj_get_info_by_fd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    info = _XdpLinkInfo()
    size = ctypes.c_uint32(ctypes.sizeof(info))
    _check(so.bpf_obj_get_info_by_fd(link_fd, ctypes.byref(info), ctypes.byref(size)), "link info")
    return info.ifindex
