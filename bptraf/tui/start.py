"""Start the TUI on the terminal cli.py chose, and turn its failures into one line."""

from __future__ import annotations

from bptraf.errors import BptrafError
from bptraf.source import Source


def run_tui(
    source: Source,
    interval: float,
    count: int | None,
    resolve: bool = False,
    *,
    fd: int = 1,
    stop_signals: tuple[int, ...] = (),
    replay=None,
    top: int | None = None,
) -> None:
    """Run the TUI drawing on `fd`; a worker's error is raised here, once the terminal is restored."""
    import time

    from bptraf.sampler import Sampler

    # Before Textual is imported (half a second): the first interval runs from here.
    sampler = Sampler(source, wall=replay.wall if replay else time.time)
    from bptraf.tui.app import BptrafApp
    from bptraf.tui.driver import TerminalDriver

    driver = type("BptrafDriver", (TerminalDriver,), {"fd": fd})
    app = BptrafApp(
        source, interval, count, resolve=resolve, stop_signals=stop_signals, replay=replay, driver_class=driver,
        sampler=sampler, top=top,
    )  # fmt: skip
    app.run()
    if app.error is not None:
        raise app.error
    if app.return_code:
        raise BptrafError("the TUI failed (the error is above)")
