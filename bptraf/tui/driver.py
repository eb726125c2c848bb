"""The terminal driver: draw on the terminal bptraf was started on, and never wait on a dead one.

Textual's Linux driver writes to stderr through a writer thread with a bounded queue. Two faults
follow: `bptraf eth0 2>log` draws into the log, and once the terminal is gone (the window closed, the
pty answering EIO) the writer thread dies, its queue fills, and the exit path blocks for ever putting
its stop mark on it, with the XDP program still attached. Here every write goes to the terminal fd
through `TerminalFile`, which swallows EIO (nothing can be shown any more) and, once the app is
closing, gives up on a terminal that does not take output within a short grace.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time

from textual.drivers.linux_driver import LinuxDriver

CHUNK = 4096  # bytes per write(); a partial write is fine, the rest goes next round
CLOSE_GRACE_S = 0.5  # how long the exit path may wait for a stalled terminal, in all


class TerminalFile:
    """The file Textual's writer thread writes to: errors end output, never the thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        # Write through our own non-blocking open of the terminal: a blocking write() to a terminal
        # that stopped reading never returns, and the flag on our own open leaves the shell's alone.
        try:
            self._out = os.open(os.ttyname(fd), os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            self._out = fd
        self.dead = False  # the terminal refused a write: drop everything from now on
        self.closing = threading.Event()
        self._pending: list[str] = []

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not self.dead:
            self._pending.append(text)
            if len(self._pending) > 256:
                self.flush()
        return len(text)

    def flush(self) -> None:
        data = "".join(self._pending).encode("utf-8", "replace")
        self._pending.clear()
        view = memoryview(data)
        stalled_s = 0.0
        while view and not self.dead:
            # While running, wait as long as the terminal needs (a paused terminal pauses the screen);
            # once closing, only a short grace: the exit must never hang on output no one will read.
            try:
                _, ready, _ = select.select([], [self._out], [], 0.1)
                if ready:
                    view = view[os.write(self._out, view[:CHUNK]) :]
                    continue
            except (BlockingIOError, InterruptedError):
                time.sleep(0.05)  # no room after all: wait a little rather than spin
            except (OSError, ValueError):
                self.dead = True  # EIO: the terminal is gone
                break
            stalled_s += 0.1 if self.closing.is_set() else 0.0
            self.dead = stalled_s >= CLOSE_GRACE_S


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, drawing on `fd` (bptraf's stdout) through a TerminalFile."""

    fd = 1  # set by the caller before the app runs (cli.py picks the terminal)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.terminal = TerminalFile(self.fd)
        self._file = self.terminal
        self._unwatch = threading.Event()  # stops the hang-up watch (start_application_mode)

    def _sigcont_application(self, *args) -> None:
        # A terminal that hangs up sends SIGCONT with SIGHUP, and Textual restarts application mode on
        # any SIGCONT: on the dead terminal that started a second input thread, spinning on end of file,
        # and a second writer, slowing the exit. Only a SIGCONT after a SIGTSTP (a real suspend) resumes.
        if self._must_signal_resume:
            super()._sigcont_application(*args)

    def start_application_mode(self) -> None:
        super().start_application_mode()
        self._unwatch = threading.Event()  # a new one each time: a resume after a suspend starts again
        if os.isatty(self.fileno) and signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []):
            threading.Thread(
                target=watch_hangup, args=(self.fileno, self._unwatch), name="hang-up", daemon=True
            ).start()

    def stop_application_mode(self) -> None:
        self.terminal.closing.set()
        self._unwatch.set()
        super().stop_application_mode()

    def close(self) -> None:
        self.terminal.closing.set()
        writer = self._writer_thread
        if writer is not None and writer.is_alive():
            # The writer drains its queue (dropping output once the terminal is dead), so the stop mark
            # always finds room; the join is bounded all the same.
            writer._queue.put(None)
            writer.join(timeout=2 * CLOSE_GRACE_S)


def watch_hangup(fd: int, stop: threading.Event) -> None:
    """Until `stop`: once the terminal on `fd` hangs up, ask for the stop every other ending takes, a
    SIGTERM, which bptraf keeps blocked and takes in its loop (cli.py). A hang-up brings SIGHUP, but not
    to a bptraf outside the terminal's session (`setsid`, or behind a wrapper that takes the SIGHUP
    itself, as strace does): its input would then read end of file for ever, and bptraf would never
    end, its programs attached."""
    poller = select.poll()
    poller.register(fd, select.POLLHUP)  # a hang-up and an error are reported whatever is asked
    while not stop.is_set():
        if any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _fd, events in poller.poll(100)):
            os.kill(os.getpid(), signal.SIGTERM)
            return
