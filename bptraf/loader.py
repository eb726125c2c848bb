"""Compile and load the XDP programs in a short-lived child process.

bcc compiles with LLVM, which stays mapped in any process that loaded it (about 100 MiB of RSS). The
child compiles, loads, and hands the program and map fds back over a Unix socket (SCM_RIGHTS); the
long-running bptraf process then holds only fds, and never imports bcc.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys

from bptraf.errors import BptrafError
from bptraf.kernel_src import kernel_dir
from bptraf.source import Feature

_TIMEOUT_S = 120
FLOWS_MAX_DEFAULT = 16384
_SIZES, _FLOWS = Feature.SIZES, Feature.FLOWS

# source, {feature set: entry-point prefix} (kernel/count.c's BPTRAF_PROG), {role: map name}
_PROGRAMS = {
    "pass": (
        "count.c",
        {
            Feature.NONE: "bptraf_count_",
            _SIZES: "bptraf_count_sizes_",
            _FLOWS: "bptraf_count_flows_",
            _SIZES | _FLOWS: "bptraf_count_sizes_flows_",
        },
        {
            "stats": "bptraf_stats",
            "flows4": "bptraf_flows4",
            "flows6": "bptraf_flows6",
            "flow_full": "bptraf_flow_full",
            "flow_stats": "bptraf_flow_stats",
        },
    ),
    "drop": ("drop.c", {Feature.NONE: "bptraf_drop_"}, {"stats": "bptraf_drop"}),
}
VARIANTS = {action: tuple(v) for action, (_src, v, _maps) in _PROGRAMS.items()}
MAP_ROLES = {action: tuple(maps) for action, (_src, _v, maps) in _PROGRAMS.items()}

_NO_BCC = (
    "bcc's Python module is not importable: install it with `apt install python3-bpfcc` "
    "(PyPI's `bcc` is another project); in a virtualenv, create it from /usr/bin/python3 "
    "with --system-site-packages (`scripts/setup.sh` does both)"
)


def import_bcc():
    try:
        import bcc
    except ImportError:
        raise BptrafError(_NO_BCC) from None
    return bcc


def check_bcc() -> None:
    """Fail early, with the install hint, without loading bcc (and LLVM) into this process."""
    if importlib.util.find_spec("bcc") is None:
        raise BptrafError(_NO_BCC)


def bcc_version() -> str:
    try:
        return import_bcc().__version__
    except BptrafError:
        return "not installed"


def load_programs(bcc, action: str, nifaces: int, flows_max: int = FLOWS_MAX_DEFAULT):
    """Compile kernel/count.c or drop.c and load every feature set's entry point for every slot.

    Returns the bcc object (which owns the fds), {feature set: program fds by slot}, {role: map fd}.
    """
    src, variants, maps = _PROGRAMS[action]
    kdir = kernel_dir()
    cflags = [f"-I{kdir}", f"-DBPTRAF_NIFACES={int(nifaces)}", f"-DBPTRAF_FLOWS_MAX={int(flows_max)}"]
    try:
        bpf = bcc.BPF(src_file=str(kdir / src).encode(), cflags=cflags)
    except Exception as exc:  # bcc raises bare Exception; its compiler output is already on stderr
        raise BptrafError(f"could not compile {src} with bcc: {exc}") from None
    try:
        fds = {
            features: [bpf.load_func(f"{prefix}{slot}".encode(), bcc.BPF.XDP).fd for slot in range(nifaces)]
            for features, prefix in variants.items()
        }
    except Exception as exc:
        bpf.cleanup()
        raise BptrafError(f"the kernel refused the XDP program: {exc}") from None
    return bpf, fds, {role: bpf.get_table(name).map_fd for role, name in maps.items()}


def load(action: str, nifaces: int, flows_max: int) -> tuple[dict[Feature, list[int]], dict[str, int]]:
    """({feature set: program fds by slot}, {role: map fd}), owned by the caller from now on."""
    roles, variants = MAP_ROLES[action], VARIANTS[action]
    nprogs = nifaces * len(variants)
    nfds = nprogs + len(roles)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with parent:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bptraf.loader", action, str(nifaces), str(flows_max), str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        parent.settimeout(_TIMEOUT_S)
        try:
            msg, fds, _flags, _addr = socket.recv_fds(parent, 65536, nfds)
        except (socket.timeout, OSError) as exc:
            proc.kill()
            raise BptrafError(f"the program loader did not answer: {exc}") from None
        finally:
            proc.wait()
    reply = json.loads(msg or b'{"error": "the program loader exited without a word"}')
    if "error" in reply:
        for fd in fds:
            os.close(fd)
        raise BptrafError(reply["error"])
    if len(fds) != nfds:
        raise BptrafError(f"the program loader sent {len(fds)} fds, not {nfds}")
    progs = {v: fds[i * nifaces : (i + 1) * nifaces] for i, v in enumerate(variants)}
    return progs, dict(zip(roles, fds[nprogs:]))


def _child(action: str, nifaces: int, flows_max: int, sock_fd: int) -> int:
    with socket.socket(fileno=sock_fd) as sock:
        try:
            bpf, prog_fds, maps = load_programs(import_bcc(), action, nifaces, flows_max)
        except BptrafError as exc:
            sock.send(json.dumps({"error": str(exc)}).encode())
            return 1
        fds = [fd for v in VARIANTS[action] for fd in prog_fds[v]] + [maps[role] for role in MAP_ROLES[action]]
        socket.send_fds(sock, [json.dumps({"ok": True}).encode()], fds)
        bpf.cleanup()  # closes this process's copies only; the parent's keep everything alive
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
