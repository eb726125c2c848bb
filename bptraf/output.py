"""Stdout for plain and JSON lines, written by a thread of its own.

A reader that stops reading (a stalled fifo, a suspended pager) blocks write(). The main thread takes
the stop signals and holds the XDP programs, so it never writes: it queues blocks here, and while the
queue is full it waits for room or a stop, whichever comes first.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from collections.abc import Callable

from bptraf.errors import BptrafError, Stopped

DEPTH = 64  # blocks queued before the sampling loop waits for the reader
STOP_PATIENCE_S = 0.5  # how long a stopping bptraf still waits for the reader to take what is queued


class Output:
    """A bounded queue of byte blocks, written to `fd` in order by a daemon thread."""

    def __init__(self, fd: int, depth: int = DEPTH) -> None:
        self._fd = fd
        self._depth = depth
        self._pending: collections.deque[bytes] = collections.deque()
        self._busy = False
        self._closed = False
        self._cond = threading.Condition()
        self.error: OSError | None = None
        self.unwritten = 0  # blocks given up on: bptraf was stopping and the reader was not reading
        threading.Thread(target=self._run, name="bptraf-stdout", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                data = memoryview(self._pending.popleft())
                self._busy = True
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError as exc:
                with self._cond:
                    self.error = exc
                    self._busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def check(self) -> None:
        """Raise what the writer met: BrokenPipeError for a reader gone, BptrafError for the rest."""
        exc = self.error
        if exc is None:
            return
        if isinstance(exc, BrokenPipeError):
            raise exc
        raise BptrafError(f"cannot write to stdout: {exc.strerror}")

    def offer(self, data: bytes, timeout: float = 0.0) -> bool:
        """Queue `data`, waiting up to `timeout` for room; False if the queue stayed full."""
        with self._cond:
            self.check()
            if not self._cond.wait_for(lambda: len(self._pending) < self._depth or self.error, timeout):
                return False
            self.check()
            self._pending.append(data)
            self._cond.notify_all()
            return True

    def drained(self, timeout: float) -> bool:
        """Wait up to `timeout` until everything queued is written."""
        with self._cond:
            done = self._cond.wait_for(lambda: not (self._pending or self._busy) or self.error, timeout)
            self.check()
            return done

    def close(self) -> None:
        """End the writer once the queue is empty (a writer stuck in write() is left to the exit)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def give_up(self) -> int:
        """Forget what is still queued; how many blocks that was."""
        with self._cond:
            self.unwritten += len(self._pending)
            self._pending.clear()
            return self.unwritten


class Stream:
    """The file-like face the writers see: write() collects, flush() queues one block.

    `stop(timeout)` waits up to `timeout` for a stop signal and says whether one came (or came before).
    While the queue is full, flush() waits for room or a stop; once stopping, it never waits.
    """

    POLL_S = 0.1

    def __init__(self, out: Output, stop: Callable[[float], bool]) -> None:
        self.out = out
        self._stop = stop
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        data = "".join(self._parts).encode()
        self._parts.clear()
        if not data:
            return
        while not self.out.offer(data, 0.0 if self._stop(0.0) else self.POLL_S):
            if self._stop(0.0):
                self.out.unwritten += 1
                raise Stopped()

    def finish(self, patient: bool) -> bool:
        """Wait for the reader to take everything: for ever (until a stop) when `patient`, else for
        STOP_PATIENCE_S. False if something was left unwritten."""
        deadline = None if patient else time.monotonic() + STOP_PATIENCE_S
        while not self.out.drained(self.POLL_S):
            if self._stop(0.0) and deadline is None:
                deadline = time.monotonic() + STOP_PATIENCE_S / 2
            if deadline is not None and time.monotonic() > deadline:
                self.out.give_up()
                return False
        return True


STDOUT_CLOSED = "stdout is closed: give it somewhere to go (>/dev/null discards the output)"


def guard_stdio() -> bool:
    """Put /dev/null on a closed stdin or stderr (so no later open takes fd 0 or 2 and output lands in a
    map); say whether stdout is open. A closed stdout gets /dev/null too, and bptraf refuses to run."""
    ok = True
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.dup2(os.open(os.devnull, os.O_RDWR), fd)
            ok = ok and fd != 1
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 (fd 2 outlives this object)
    return ok and sys.stdout is not None


def stdout_stream(is_open: bool, stop: Callable[[float], bool]) -> Stream:
    """The Stream over stdout's fd; BptrafError if there is none."""
    try:
        fd = sys.stdout.fileno() if is_open else -1
    except (OSError, ValueError):  # an object without a file descriptor put in place of sys.stdout
        fd = -1
    if fd < 0:
        raise BptrafError(STDOUT_CLOSED)
    return Stream(Output(fd), stop)
