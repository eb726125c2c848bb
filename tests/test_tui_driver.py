"""The terminal file under Textual's writer thread: a dead or stalled terminal never blocks the exit."""

from __future__ import annotations

import os
import pty
import signal
import threading
import time

from textual.drivers._writer_thread import WriterThread

from bptraf.tui.driver import CLOSE_GRACE_S, TerminalDriver, TerminalFile


def test_a_closed_terminal_ends_output_not_the_writer():
    master, slave = pty.openpty()
    term = TerminalFile(slave)
    writer = WriterThread(term)
    writer.start()
    writer.write("frame 1")
    os.close(master)  # the window closed: writes now fail with EIO
    for _ in range(200):  # far more than the writer's queue holds: none of these may block
        writer.write("x" * 1000)
    done = threading.Event()
    threading.Thread(target=lambda: (writer.stop(), done.set()), daemon=True).start()
    assert done.wait(5), "stopping the writer blocked on a dead terminal"
    assert term.dead
    os.close(slave)


def test_a_stalled_terminal_is_given_up_once_closing():
    master, slave = pty.openpty()  # nobody reads the master: the pty's buffer fills and stays full
    term = TerminalFile(slave)
    term.closing.set()
    started = time.monotonic()
    for _ in range(64):
        term.write("y" * 4096)
        term.flush()
        if term.dead:
            break
    assert term.dead
    assert time.monotonic() - started < 10 * CLOSE_GRACE_S
    os.close(master)
    os.close(slave)


def test_output_reaches_a_live_terminal():
    master, slave = pty.openpty()
    term = TerminalFile(slave)
    term.write("hello ")
    term.write("screen")
    term.flush()
    assert os.read(master, 100) == b"hello screen"
    os.close(master)
    os.close(slave)


async def test_sigcont_resumes_only_after_a_suspend(monkeypatch):
    """A terminal that hangs up sends SIGCONT with SIGHUP: that one must not restart the screen (on the
    dead terminal it started a second input thread spinning on end of file, slowing the exit)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    try:
        driver = TerminalDriver(app=None)
        resumed = []
        monkeypatch.setattr(driver, "resume_application_mode", lambda: resumed.append(True))
        driver._sigcont_application()
        assert resumed == []
        driver._must_signal_resume = True  # what a SIGTSTP (a real suspend) leaves
        driver._sigcont_application()
        assert resumed == [True]
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_a_stalled_terminal_gets_its_whole_grace_once_closing(monkeypatch):
    """Five rounds of 0.1 s with no room, then given up: counted through select(), not timed."""
    import bptraf.tui.driver as driver

    master, slave = pty.openpty()
    rounds = []

    def stalled(r, w, x, timeout):
        rounds.append(timeout)
        return [], [], []

    monkeypatch.setattr(driver.select, "select", stalled)
    term = TerminalFile(slave)
    term.closing.set()
    term.write("frame")
    term.flush()
    assert term.dead and rounds == [0.1] * round(CLOSE_GRACE_S / 0.1)
    os.close(master)
    os.close(slave)


async def test_closing_the_driver_stops_its_writer():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    master, slave = pty.openpty()
    try:
        drv = TerminalDriver(app=None)
        writer = WriterThread(TerminalFile(slave))
        writer.start()
        drv._writer_thread = writer
        drv.close()
        assert drv.terminal.closing.is_set() and not writer.is_alive()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        os.close(master)
        os.close(slave)


async def test_closing_never_waits_for_ever_on_a_stuck_writer():
    import queue

    release = threading.Event()

    class Stuck(threading.Thread):
        """A writer that takes the stop mark but never ends (blocked in a write)."""

        def __init__(self):
            super().__init__(daemon=True)
            self._queue = queue.Queue()

        def run(self):
            release.wait(30)

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    writer = Stuck()
    writer.start()
    try:
        drv = TerminalDriver(app=None)
        drv._writer_thread = writer
        done = threading.Event()
        threading.Thread(target=lambda: (drv.close(), done.set()), daemon=True).start()
        assert done.wait(10), "close() waited on a writer that never ends"
        assert writer.is_alive() and writer._queue.get_nowait() is None  # the stop mark was put
    finally:
        release.set()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
