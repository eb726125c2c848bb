"""History plots: one series over a window fixed in time, with a y axis in its unit and a time axis.

Drawn with the Line API: a new sample rebuilds the strips once, and a repaint only hands them out,
so a plot costs a few hundred microseconds a frame whatever the terminal size.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from bptraf.tui.widgets.text import ChangedLines
from bptraf.units import rate

BLOCKS = " ▁▂▃▄▅▆▇█"
LABEL_W = 10  # the y axis labels: `20.00 Kpps`
STYLES = {  # pps and bps told apart at a glance: colour and unit
    "pps": Style(color="green"),
    "bps": Style(color="cyan"),
    "B/s": Style(color="cyan"),
}
AXIS = Style(dim=True)


@dataclass(frozen=True)
class Series:
    """What one plot shows: the name, the unit, and (end time, period, value) per interval."""

    name: str
    unit: str  # "pps", "bps" or "B/s"
    now: float  # the last sample's time: the right edge of the plot
    window_s: float
    times: Sequence[float] = ()
    periods: Sequence[float] = ()
    values: Sequence[float] = ()
    version: int = 0  # bumped per sample, so an unchanged series is not redrawn


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (1 for nothing): a round axis top."""
    if value <= 0:
        return 1.0
    scale = 10 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= value)


def columns(series: Series, ncols: int) -> list[float | None]:
    """Each column's peak over the stretch of time it covers; None where nothing was measured.
    Columns are fixed slots of absolute time (the last one holds `now`), so a new sample changes only
    the last column until the slots shift: most lines of the plot stay as they were. An interval fills
    every slot its period overlaps, so a long interval draws as a wide step. In numpy: the history is
    up to 3000 intervals, and a loop over them per plot per sample was most of the TUI's own CPU."""
    if ncols <= 0:
        return []
    n = min(len(series.times), len(series.periods), len(series.values))
    if not n:
        return [None] * ncols
    per_col = series.window_s / ncols
    shift = ncols - 1 - math.floor(series.now / per_col)
    # Intervals are in time order: those ending a slot or more before the first column cannot show,
    # and only the rest is taken out of the history (a float into numpy costs more than the math).
    i = bisect.bisect_left(series.times, (-shift - 1) * per_col, hi=n)

    def tail(seq: Sequence[float]) -> np.ndarray:
        return np.fromiter(itertools.islice(seq, i, n), float, n - i)

    t = tail(series.times)
    start = t - tail(series.periods)
    end = np.maximum(start, t - 1e-9)
    first = np.maximum(np.floor(start / per_col).astype(np.int64) + shift, 0)
    last = np.minimum(np.floor(end / per_col).astype(np.int64) + shift, ncols - 1)
    keep = first <= last
    first, last = first[keep], last[keep]
    values = tail(series.values)[keep]
    # Every (slot, value) an interval covers: most intervals cover one slot, a long one several.
    spans = last - first + 1
    offsets = np.arange(int(spans.sum())) - np.repeat(np.cumsum(spans) - spans, spans)
    slots = np.repeat(first, spans) + offsets
    peaks = np.full(ncols, -np.inf)
    np.maximum.at(peaks, slots, np.repeat(values, spans))
    seen = np.zeros(ncols, bool)
    seen[slots] = True
    return [float(v) if hit else None for v, hit in zip(peaks.tolist(), seen.tolist())]


def span_text(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def axis_line(ncols: int, window_s: float) -> str:
    """`└───300s──────150s───────now`: seconds ago at a few ticks under the columns."""
    line = ["─"] * ncols
    ticks = 4 if ncols >= 40 else 2 if ncols >= 16 else 1
    for k in range(ticks, 0, -1):
        label = f"-{window_s * k / ticks:g}s"
        start = int(ncols * (1 - k / ticks))
        if start + len(label) < ncols - 4:
            line[start : start + len(label)] = label
    line[ncols - 3 : ncols] = "now" if ncols >= 3 else line[ncols - 3 : ncols]
    return "└" + "".join(line)


Line = tuple[tuple[str, Style], ...]  # a line as (text, style) pieces: cheap to build and compare


def plot_lines(series: Series | None, width: int, height: int) -> list[Line]:
    """The plot as lines: a title, the graph with its y labels, the time axis."""
    if height <= 0 or width <= 0:
        return []
    style = STYLES.get(series.unit if series else "pps", STYLES["pps"])
    if series is None or not series.times:
        title = f"{series.name if series else ''} {series.unit if series else ''}".strip()
        return [((title, style),), *((("no data yet", AXIS),) for _ in range(height - 1))][:height]
    last = series.values[-1] if series.values else 0.0
    title = f"{series.name} {series.unit}  {rate(last, series.unit)}  · last {span_text(series.window_s)}"
    out: list[Line] = [((title, style),)]
    rows = max(height - 2, 1)
    ncols = max(width - LABEL_W - 1, 1)
    cols = columns(series, ncols)
    top = nice_ceiling(max((c for c in cols if c is not None), default=0.0))
    labels = {rows - 1: "0", 0: rate(top, series.unit)}  # one row: its label is the scale
    if rows >= 4 and rows % 2 == 0:
        labels[rows // 2 - 1] = rate(top / 2, series.unit)  # that row's bottom edge is half the scale
    scale = rows * 8 / top
    for r in range(rows):
        floor = (rows - 1 - r) / rows * top  # the value at this row's bottom edge
        cells = "".join(" " if c is None else BLOCKS[max(0, min(int(round((c - floor) * scale)), 8))] for c in cols)
        label = labels.get(r, "")
        out.append(((f"{label:>{LABEL_W}}┤" if label else " " * LABEL_W + "│", AXIS), (cells, style)))
    if height >= 3:
        out.append(((" " * (LABEL_W - 1) + axis_line(ncols + 1, series.window_s), AXIS),))
    return out[:height]


def strip(line: Line, width: int) -> Strip:
    return Strip([Segment(text, style) for text, style in line]).adjust_cell_length(width)


def render_lines(series: Series | None, width: int, height: int) -> list[Strip]:
    return [strip(line, width) for line in plot_lines(series, width, height)]


class Plot(ChangedLines):
    """One series; show() rebuilds its lines and repaints only those that changed."""

    DEFAULT_CSS = "Plot { height: 1fr; min-height: 3; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.series: Series | None = None

    def show(self, series: Series) -> None:
        if series == self.series:
            return
        self.series = series
        width, height = self.size
        self.take(plot_lines(series, width, height))

    def on_resize(self) -> None:
        self._lines, self._strips = plot_lines(self.series, self.size.width, self.size.height), {}
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if y >= len(self._lines):
            return Strip.blank(self.size.width)
        if y not in self._strips:
            self._strips[y] = strip(self._lines[y], self.size.width)
        return self._strips[y]

    def text(self) -> str:
        """What the plot shows, as plain lines (tests, screenshots)."""
        return "\n".join(s.text for s in render_lines(self.series, self.size.width, self.size.height))
