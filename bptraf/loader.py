"""Compile and load the XDP (and tc egress) programs in a short-lived child process.

bcc compiles with LLVM, which stays mapped in any process that loaded it (about 100 MiB of RSS). The
child compiles, loads, and hands the program and map fds back over a Unix socket (SCM_RIGHTS); the
long-running bptraf process then holds only fds, and never imports bcc.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from bptraf import limits
from bptraf.errors import BptrafError, Stopped
from bptraf.kernel_src import kernel_dir
from bptraf.source import Feature

_TIMEOUT_S = 120
_POLL_S = 0.1  # how often a stop is looked for while the child compiles
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
        {
            "stats": "bptraf_stats",
            "flows4": "bptraf_flows4",
            "flows6": "bptraf_flows6",
            "flow_full": "bptraf_flow_full",
            "flow_stats": "bptraf_flow_stats",
        },
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


def load_sets(bcc, sets: tuple[str, ...], nifaces: int, flows_max: int = FLOWS_MAX_DEFAULT):
    """Compile the sources of `sets` ("pass", "drop", "egress") as one object and load every feature
    set's entry point for every slot.

    Returns the bcc object (which owns the fds) and {set: ({feature set: program fds by slot}, {role: map fd})}.
    """
    kdir = kernel_dir()
    cflags = [f"-I{kdir}", f"-DBPTRAF_NIFACES={int(nifaces)}", f"-DBPTRAF_FLOWS_MAX={int(flows_max)}"]
    sources = [_PROGRAMS[s][0] for s in sets]
    # One translation unit, #line marks keeping compiler messages on the right file: bcc rewrites map
    # calls in its main file only, and one compile costs little more than its biggest part.
    text = "".join(f'#line 1 "{kdir / src}"\n{(kdir / src).read_text()}\n' for src in sources)
    with _stderr_captured() as said:
        try:
            bpf = bcc.BPF(text=text.encode(), cflags=cflags)
        except Exception as exc:  # bcc raises bare Exception; what went wrong it printed on stderr
            raise BptrafError(_build_failure(" and ".join(sources), str(exc), said(), flows_max)) from None
    out = {}
    for s in sets:
        _src, variants, maps, kind = _PROGRAMS[s]
        load = getattr(bcc.BPF, kind)
        try:
            fds = {f: [bpf.load_func(f"{p}{i}".encode(), load).fd for i in range(nifaces)] for f, p in variants.items()}
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


@contextlib.contextmanager
def _stderr_captured():
    """Send fd 2 (where bcc's C++ side prints) to a file for the block; yields a reader of it.
    What was captured is copied to the real stderr afterwards, so nothing is lost."""
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)

        def said() -> str:
            tmp.seek(0)
            return tmp.read().decode(errors="replace")

        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            with contextlib.suppress(OSError):
                os.write(2, said().encode()[-65536:])


_MAP_FAILED = re.compile(r"could not open bpf map: (\w+), error: ([^\n]+)")


def _build_failure(src: str, exc: str, said: str, flows_max: int) -> str:
    """One line for a failed bcc.BPF(): a map the kernel would not create is not a compile error."""
    found = _MAP_FAILED.search(said)
    if found:
        name, why = found.groups()
        flows = name.startswith("bptraf_flows")  # bptraf_flows4 or bptraf_flows6
        hint = f" (a flow table of {flows_max} entries: try a smaller --flows-max)" if flows else ""
        return f"the kernel could not create the map {name}: {why}{hint}"
    error = next((line.strip() for line in said.splitlines() if "error:" in line), exc)
    return f"could not compile {src} with bcc: {error}"


Loaded = dict[str, tuple[dict[Feature, list[int]], dict[str, int]]]


def load(
    action: str,
    nifaces: int,
    flows_max: int,
    interrupted: Callable[[], bool] = lambda: False,
    also: tuple[str, ...] = (),
) -> Loaded:
    """{set: ({feature set: program fds by slot}, {role: map fd})} for `action` and the sets in `also`
    (such as "egress"), compiled together; the fds are the caller's from now on.

    `interrupted` is polled while the child works: when it says so, the child is killed and Stopped
    raised, so a stop signal never waits on a compile.
    """
    sets = (action, *also)
    counts = [(nifaces * len(VARIANTS[s]), len(MAP_ROLES[s])) for s in sets]
    nfds = sum(p + m for p, m in counts)
    oom_before = limits.kills()
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    # The child's stderr (bcc's compiler output, a crash) goes to a file the parent reads on failure:
    # never onto the terminal, and never from an orphan after bptraf is gone.
    with parent, tempfile.TemporaryFile() as errors:
        try:
            argv = [action, str(nifaces), str(flows_max), str(child.fileno()), str(os.getpid()), *also]
            proc = subprocess.Popen(
                [sys.executable, "-m", "bptraf.loader", *argv],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,  # Ctrl-C reaches bptraf alone, which then ends the child
            )
        finally:
            child.close()
        try:
            _await(proc, parent, interrupted)
            msg, fds, flags, _addr = socket.recv_fds(parent, 65536, nfds)
        except BaseException:
            proc.kill()
            raise
        finally:
            _reap(proc)
        if flags & socket.MSG_CTRUNC:
            for fd in fds:
                os.close(fd)
            raise BptrafError(f"too few file descriptors to take the loaded programs ({limits.open_files()})")
        if not msg:
            raise BptrafError(_silent_death(proc.returncode, _tail(errors), limits.kills() - oom_before))
    reply = json.loads(msg)
    if "error" in reply:
        for fd in fds:
            os.close(fd)
        raise BptrafError(reply["error"])
    if len(fds) != nfds:
        for fd in fds:
            os.close(fd)
        raise BptrafError(f"the program loader sent {len(fds)} fds, not {nfds}")
    out: Loaded = {}
    for s, (nprogs, nmaps) in zip(sets, counts):
        out[s] = (
            {v: fds[i * nifaces : (i + 1) * nifaces] for i, v in enumerate(VARIANTS[s])},
            dict(zip(MAP_ROLES[s], fds[nprogs : nprogs + nmaps])),
        )
        fds = fds[nprogs + nmaps :]
    return out


def _await(proc: subprocess.Popen, sock: socket.socket, interrupted: Callable[[], bool]) -> None:
    """Wait for the child's reply (or its exit, which makes the socket readable), polling `interrupted`."""
    deadline = time.monotonic() + _TIMEOUT_S
    while not select.select([sock], [], [], _POLL_S)[0]:
        if interrupted():
            raise Stopped()
        if time.monotonic() > deadline:
            raise BptrafError(f"the program loader did not answer in {_TIMEOUT_S} s")


def _reap(proc: subprocess.Popen) -> None:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(errors) -> str:
    """The child's last meaningful stderr line."""
    errors.seek(0)
    lines = [line.strip() for line in errors.read()[-8192:].decode(errors="replace").splitlines()]
    last = next((line for line in reversed(lines) if line and not line.startswith("^")), "")
    return " ".join(last.removeprefix("what():").split())


def _silent_death(returncode: int | None, tail: str, oom_kills: int) -> str:
    """Why the child ended without a reply, as one line."""
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        if oom_kills > 0 and -returncode == signal.SIGKILL:
            return f"the program loader was killed ({name}) by the out-of-memory killer: {limits.memory_limit()}"
        return f"the program loader died of {name}" + (f" ({tail})" if tail else "") + limits.address_space_hint()
    return f"the program loader failed (exit {returncode}): {tail or 'no message'}" + limits.address_space_hint()


def open_files_needed(action: str, nifaces: int, also: tuple[str, ...] = ()) -> int:
    """Program fds, map fds and one link per interface and set, plus stdio, the loader's socket and headroom."""
    sets = (action, *also)
    return sum(nifaces * (len(VARIANTS[s]) + 1) + len(MAP_ROLES[s]) for s in sets) + 16


def _child(action: str, nifaces: int, flows_max: int, sock_fd: int, also: tuple[str, ...]) -> int:
    sets = (action, *also)
    with socket.socket(fileno=sock_fd) as sock:
        try:
            bpf, loaded = load_sets(import_bcc(), sets, nifaces, flows_max)
        except BptrafError as exc:
            error = str(exc)
        except (OSError, MemoryError) as exc:  # bcc's libraries (LLVM) could not be mapped, say
            error = f"the program loader could not load bcc: {exc}{limits.address_space_hint()}"
        else:
            fds = []
            for s in sets:  # each set's programs, then its maps: the order load() takes them apart in
                progs, maps = loaded[s]
                fds += [fd for v in VARIANTS[s] for fd in progs[v]] + [maps[r] for r in MAP_ROLES[s]]
            socket.send_fds(sock, [json.dumps({"ok": True}).encode()], fds)
            bpf.cleanup()  # closes this process's copies only; the parent's keep everything alive
            return 0
        sock.send(json.dumps({"error": error}).encode())
        return 1


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this child when bptraf dies, and let the OOM killer pick it first."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # bptraf died before the line above
        raise SystemExit(1)
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


def _main(argv: list[str]) -> int:
    # The parent blocks its stop signals and the mask is inherited through exec: this child unblocks
    # them, and the parent ends it with SIGKILL anyway when it is told to stop.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    _die_with_parent(int(argv[4]))
    try:
        return _child(argv[0], int(argv[1]), int(argv[2]), int(argv[3]), tuple(argv[5:]))
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        return 1  # bptraf went away: nobody is left to tell


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
