"""How the TUI's worker waits between samples: woken by keys, held by a paused replay, stopped on exit.

The worker runs sampler.run(), the one loop; this is the `wait` it is given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bptraf.sampler import Wait


class Feed:
    def __init__(self, paused: Callable[[], bool], replay=None) -> None:
        self._paused = paused
        self._replay = replay  # a ReplaySource: pause holds its feed, step releases one interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._step = False

    def stopped(self) -> bool:
        return self._stop.is_set()

    def woken(self) -> bool:
        return self._wake.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """The interval or speed changed (or a replay resumed): start a new deadline now."""
        self._wake.set()

    def step(self) -> None:
        self._step = True
        self._wake.set()

    def _held(self) -> bool:
        return bool(self._replay) and (self._paused() or self._replay.exhausted)

    def wait(self, timeout: float) -> Wait:
        while self._held() and not self._stop.is_set():
            if self._step and not self._replay.exhausted:
                self._step = False
                return Wait.TIMEOUT
            self._wake.wait()
            self._wake.clear()
        if self._wake.wait(timeout):
            self._wake.clear()
            return Wait.STOP if self._stop.is_set() else Wait.WAKE
        return Wait.STOP if self._stop.is_set() else Wait.TIMEOUT
