"""Compile and load the XDP (and tc egress) programs in a short-lived child process.

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

# source, {feature set: entry-point prefix} (the source's BPTRAF_PROG), {role: map name}, program type
_PROGRAMS = {
    "pass": (
        "count.c",
        {
            Feature.NONE: "bptraf_count_",
            _SIZES: "bptraf_count_sizes_",
            _FLOWS: "bptraf_count_flows_",
            _SIZES | _FLOWS: "bptraf_count_sizes_flows_",
        },
        {"stats": "bptraf_stats", "flows": "bptraf_flows"},
        "XDP",
    ),
    "drop": ("drop.c", {Feature.NONE: "bptraf_drop_"}, {"stats": "bptraf_drop"}, "XDP"),
    # What pass mode sends, on tc egress (kernel/egress.c): no flows there yet.
    "egress": (
        "egress.c",
        {Feature.NONE: "bptraf_egress_", _SIZES: "bptraf_egress_sizes_"},
        {"stats": "bptraf_tx_stats"},
        "SCHED_CLS",
    ),
}
VARIANTS = {action: tuple(v) for action, (_src, v, _maps, _kind) in _PROGRAMS.items()}
MAP_ROLES = {action: tuple(maps) for action, (_src, _v, maps, _kind) in _PROGRAMS.items()}

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


def _compile(bcc, sources: list[str], cflags: list[str]):
    """One bcc object from one or more kernel/ sources. Several are joined into one translation unit,
    with #line marks so compiler messages name the right file: bcc rewrites map calls in its main file
    only, and one compile costs little more than the biggest part, where two would cost both."""
    kdir = kernel_dir()
    if len(sources) == 1:
        return bcc.BPF(src_file=str(kdir / sources[0]).encode(), cflags=cflags)
    text = "".join(f'#line 1 "{kdir / src}"\n{(kdir / src).read_text()}\n' for src in sources)
    return bcc.BPF(text=text.encode(), cflags=cflags)


def load_sets(bcc, sets: tuple[str, ...], nifaces: int, flows_max: int = FLOWS_MAX_DEFAULT):
    """Compile the sources of `sets` ("pass", "drop", "egress") as one object and load every feature
    set's entry point for every slot.

    Returns the bcc object (which owns the fds) and {set: ({feature set: program fds by slot}, {role: map fd})}.
    """
    kdir = kernel_dir()
    cflags = [f"-I{kdir}", f"-DBPTRAF_NIFACES={int(nifaces)}", f"-DBPTRAF_FLOWS_MAX={int(flows_max)}"]
    sources = [_PROGRAMS[s][0] for s in sets]
    try:
        bpf = _compile(bcc, sources, cflags)
    except Exception as exc:  # bcc raises bare Exception; its compiler output is already on stderr
        raise BptrafError(f"could not compile {' and '.join(sources)} with bcc: {exc}") from None
    out = {}
    for s in sets:
        _src, variants, maps, kind = _PROGRAMS[s]
        try:
            fds = {
                features: [
                    bpf.load_func(f"{prefix}{slot}".encode(), getattr(bcc.BPF, kind)).fd for slot in range(nifaces)
                ]
                for features, prefix in variants.items()
            }
        except Exception as exc:
            bpf.cleanup()
            raise BptrafError(
                f"the kernel refused the {'XDP' if kind == 'XDP' else 'tc egress'} program: {exc}"
            ) from None
        out[s] = (fds, {role: bpf.get_table(name.encode()).map_fd for role, name in maps.items()})
    return bpf, out


def load_programs(bcc, action: str, nifaces: int, flows_max: int = FLOWS_MAX_DEFAULT):
    """load_sets() for one set: the bcc object, {feature set: program fds by slot}, {role: map fd}."""
    bpf, out = load_sets(bcc, (action,), nifaces, flows_max)
    return bpf, *out[action]


Loaded = dict[str, tuple[dict[Feature, list[int]], dict[str, int]]]


def load(action: str, nifaces: int, flows_max: int, also: tuple[str, ...] = ()) -> Loaded:
    """{set: ({feature set: program fds by slot}, {role: map fd})} for `action` and the sets in `also`
    (such as "egress"), compiled together in a child; the fds are the caller's from now on."""
    sets = (action, *also)
    counts = [(nifaces * len(VARIANTS[s]), len(MAP_ROLES[s])) for s in sets]
    nfds = sum(p + m for p, m in counts)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with parent:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bptraf.loader", str(nifaces), str(flows_max), str(child.fileno()), *sets],
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
    if "error" in reply or len(fds) != nfds:
        for fd in fds:
            os.close(fd)
        raise BptrafError(reply.get("error") or f"the program loader sent {len(fds)} fds, not {nfds}")
    out: Loaded = {}
    for s, (nprogs, _nmaps) in zip(sets, counts):
        progs = {v: fds[i * nifaces : (i + 1) * nifaces] for i, v in enumerate(VARIANTS[s])}
        maps = dict(zip(MAP_ROLES[s], fds[nprogs : nprogs + len(MAP_ROLES[s])]))
        out[s] = (progs, maps)
        fds = fds[nprogs + len(MAP_ROLES[s]) :]
    return out


def _child(nifaces: int, flows_max: int, sock_fd: int, sets: tuple[str, ...]) -> int:
    with socket.socket(fileno=sock_fd) as sock:
        try:
            bpf, loaded = load_sets(import_bcc(), sets, nifaces, flows_max)
        except BptrafError as exc:
            sock.send(json.dumps({"error": str(exc)}).encode())
            return 1
        fds = []
        for s in sets:
            progs, maps = loaded[s]
            fds += [fd for v in VARIANTS[s] for fd in progs[v]] + [maps[role] for role in MAP_ROLES[s]]
        socket.send_fds(sock, [json.dumps({"ok": True}).encode()], fds)
        bpf.cleanup()  # closes this process's copies only; the parent's keep everything alive
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(_child(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), tuple(sys.argv[4:])))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
