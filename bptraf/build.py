"""Compile the kernel sources with bcc in a short-lived child, which hands back an Image (bytes).

bcc compiles with LLVM, which stays mapped in any process that loaded it (about 100 MiB of RSS). The
child compiles and writes the Image on stdout; the long-running bptraf process never imports bcc, and
loads the programs from the Image itself (bptraf/image.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import platform
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bptraf import limits
from bptraf.errors import BptrafError, Stopped
from bptraf.image import ImageError, image_of
from bptraf.kernel_src import kernel_dir

_TIMEOUT_S = 120
_POLL_S = 0.1  # how often a stop is looked for while the child compiles

NO_BCC = (
    "bcc's Python module is not importable: install it with `apt install python3-bpfcc` "
    "(PyPI's `bcc` is another project); in a virtualenv, create it from /usr/bin/python3 "
    "with --system-site-packages (`scripts/setup.sh` does both)"
)


@dataclass(frozen=True)
class Recipe:
    """What one compile takes: the sources (kernel/ file names), the build flags, and the entry points
    to keep, by name, with their program type ("XDP", "SCHED_CLS")."""

    sources: tuple[str, ...]
    nifaces: int
    flows_max: int
    entries: tuple[tuple[str, str], ...]

    def text(self) -> str:
        # One translation unit, #line marks keeping compiler messages on the right file: bcc rewrites map
        # calls in its main file only, and one compile costs little more than its biggest part.
        kdir = kernel_dir()
        return "".join(f'#line 1 "{kdir / src}"\n{(kdir / src).read_text()}\n' for src in self.sources)

    def cflags(self) -> list[str]:
        return [
            f"-I{kernel_dir()}",
            # A flow key is written by its fields and read as 64-bit words (kernel/count.c), as the kernel
            # itself builds: without this the compiler may read the words before the fields are written.
            "-fno-strict-aliasing",
            f"-DBPTRAF_NIFACES={int(self.nifaces)}",
            f"-DBPTRAF_FLOW_BITS={flow_bits(self.flows_max)}",
        ]


def flow_bits(flows_max: int) -> int:
    """A flow table's size as a power of two: at least twice the flows it holds (kernel/counters.h)."""
    return max(1, (2 * int(flows_max) - 1).bit_length())


def import_bcc():
    try:
        import bcc
    except ImportError:
        raise BptrafError(NO_BCC) from None
    return bcc


def check_bcc() -> None:
    """Fail early, with the install hint, without loading bcc (and LLVM) into this process."""
    if importlib.util.find_spec("bcc") is None:
        raise BptrafError(NO_BCC)


def check_headers(release: str = platform.release()) -> None:
    """bcc compiles against the running kernel's headers; say what to install when they are missing."""
    if Path(f"/lib/modules/{release}/build").exists() or Path("/sys/kernel/kheaders.tar.xz").exists():
        return
    raise BptrafError(
        f"kernel headers for {release} not found at /lib/modules/{release}/build: install "
        f"linux-headers-{release}, or run `make setup`, which links the distribution's generic headers"
    )


def bcc_version() -> str:
    """bcc's version, read without importing it (which would map LLVM into this process)."""
    spec = importlib.util.find_spec("bcc")
    if spec is None or not spec.submodule_search_locations:
        return "not installed"
    for where in spec.submodule_search_locations:
        with contextlib.suppress(OSError):
            text = Path(where, "version.py").read_text()
            found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text)
            if found:
                return found.group(1)
    return "unknown"


def compile_bcc(bcc, recipe: Recipe):
    """The bcc object for `recipe` (bcc creates the maps as it compiles); a compile or map failure raises
    BptrafError, in one line."""
    with _stderr_captured() as said:
        try:
            return bcc.BPF(text=recipe.text().encode(), cflags=recipe.cflags())
        except Exception as exc:  # bcc raises bare Exception; what went wrong it printed on stderr
            raise BptrafError(_failure(" and ".join(recipe.sources), str(exc), said(), recipe.flows_max)) from None


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


def map_failure(name: str, why: str, flows_max: int) -> str:
    """One line for a map the kernel would not create: not a compile error."""
    flows = name.startswith("bptraf_flows")  # bptraf_flows4 or bptraf_flows6
    hint = f" (a flow table of {flows_max} entries: try a smaller --flows-max)" if flows else ""
    return f"the kernel could not create the map {name}: {why}{hint}"


def _failure(src: str, exc: str, said: str, flows_max: int) -> str:
    """One line for a failed bcc.BPF()."""
    found = _MAP_FAILED.search(said)
    if found:
        return map_failure(*found.groups(), flows_max)
    error = next((line.strip() for line in said.splitlines() if "error:" in line), exc)
    return f"could not compile {src} with bcc: {error}"


# -- the parent's side --------------------------------------------------------------------------


def build(recipe: Recipe, interrupted: Callable[[], bool] = lambda: False) -> bytes:
    """Compile `recipe` in a child; the Image's bytes. `interrupted` is polled while the child works:
    when it says so, the child is killed and Stopped raised, so a stop signal never waits on a compile."""
    check_bcc()
    check_headers()
    oom_before = limits.kills()
    # The child's stderr (bcc's compiler output, a crash) goes to a file read on failure: never onto
    # the terminal, and never from an orphan after bptraf is gone.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bptraf.build", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,  # Ctrl-C reaches bptraf alone, which then ends the child
        )
        try:
            with contextlib.suppress(BrokenPipeError), proc.stdin:  # a child that died at once: said below
                proc.stdin.write(json.dumps(vars(recipe)).encode())
            out = _read_all(proc, interrupted)
        except BaseException:
            proc.kill()
            raise
        finally:
            proc.stdout.close()
            _reap(proc)
        if not out:
            raise BptrafError(_silent_death(proc.returncode, _tail(errors), limits.kills() - oom_before))
    head = out.partition(b"\n")[0]
    if head.startswith(b'{"error"'):
        raise BptrafError(json.loads(head)["error"])
    return out


def _read_all(proc: subprocess.Popen, interrupted: Callable[[], bool]) -> bytes:
    """Everything the child writes on stdout, to its end; polls `interrupted` meanwhile."""
    deadline = time.monotonic() + _TIMEOUT_S
    chunks, fd = [], proc.stdout.fileno()
    while True:
        if select.select([fd], [], [], _POLL_S)[0]:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
        elif interrupted():
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


# -- the child ----------------------------------------------------------------------------------


def _child(recipe: Recipe) -> tuple[int, bytes]:
    try:
        bcc = import_bcc()
        bpf = compile_bcc(bcc, recipe)
        try:
            return 0, image_of(bcc, bpf, recipe.entries).to_bytes()
        finally:
            bpf.cleanup()
    except BptrafError as exc:
        error = str(exc)
    except ImageError as exc:
        error = f"the compiled programs cannot be loaded: {exc}"
    except (OSError, MemoryError) as exc:  # bcc's libraries (LLVM) could not be mapped, say
        error = f"the program loader could not load bcc: {exc}{limits.address_space_hint()}"
    return 1, json.dumps({"error": error}).encode() + b"\n"


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
    _die_with_parent(int(argv[0]))
    try:
        raw = json.loads(sys.stdin.buffer.read())
        recipe = Recipe(tuple(raw["sources"]), raw["nifaces"], raw["flows_max"], tuple(map(tuple, raw["entries"])))
        code, out = _child(recipe)
        with open(sys.stdout.fileno(), "wb", closefd=False) as stdout:
            stdout.write(out)
        return code
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        return 1  # bptraf went away: nobody is left to tell


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
