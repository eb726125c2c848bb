"""The kernel's own view of BPF objects, read without bptraf's code: the BPF fds this process holds
(/proc/self/fdinfo), the ids the kernel still knows (the *_get_next_id calls), XDP state per interface
(`ip -j -d link`). Detach and ageing tests check bptraf against these."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import subprocess
from functools import cache


@cache
def _lib() -> ctypes.CDLL:
    so = ctypes.CDLL("libbpf.so.1", use_errno=True)
    for name in ("bpf_prog_get_next_id", "bpf_link_get_next_id", "bpf_map_get_next_id"):
        getattr(so, name).argtypes = [ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32)]
    so.bpf_map_get_next_key.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    return so


def bpf_fds(pid: int | str = "self") -> dict[int, dict[str, str]]:
    """Every BPF fd the process holds (program, map or link), with its fdinfo fields."""
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            if not target.startswith("anon_inode:bpf"):
                continue
            with open(f"/proc/{pid}/fdinfo/{name}") as f:
                info = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:
            continue  # closed while we looked
        out[int(name)] = {k.strip(): v.strip() for k, v in info.items()}
    return out


def held(fds: dict[int, dict[str, str]]) -> dict[str, set[int]]:
    """The program, map and link ids behind a set of BPF fds."""
    return {
        kind: {int(info[f"{kind}_id"]) for info in fds.values() if f"{kind}_type" in info and f"{kind}_id" in info}
        for kind in ("prog", "map", "link")
    }


def kernel_ids(kind: str) -> set[int]:
    """Every id of this kind of object ('prog', 'map', 'link') that the kernel still holds."""
    fn = getattr(_lib(), f"bpf_{kind}_get_next_id")
    ids, cur, nxt = set(), 0, ctypes.c_uint32()
    for _ in range(1 << 20):
        ret = fn(cur, ctypes.byref(nxt))
        if ret:
            code = -ret if ret != -1 else ctypes.get_errno()
            if code == errno.ENOENT:
                return ids
            raise OSError(code, f"bpf_{kind}_get_next_id: {os.strerror(code)}")
        cur = nxt.value
        ids.add(cur)
    raise AssertionError("endless id list")


def xdp_prog_id(iface: str) -> int | None:
    """The id of the XDP program attached to `iface`, as iproute2 reports it."""
    out = subprocess.run(["ip", "-j", "-d", "link", "show", "dev", iface], capture_output=True, text=True, check=True)
    xdp = json.loads(out.stdout)[0].get("xdp", {})
    found = xdp.get("prog", {}).get("id")
    if found is None:
        found = next((a["prog"]["id"] for a in xdp.get("attached", []) if "prog" in a), None)
    return found
