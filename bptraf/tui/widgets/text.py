"""Bars the panels share, as Text (never parsed as markup)."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

FULL, EMPTY = "█", "░"


def bar(value: float, peak: float, width: int) -> Text:
    """`████░░░░`: value as a share of peak, `width` cells."""
    filled = round(value / peak * width) if peak > 0 else 0
    return Text.assemble((FULL * filled, "green"), (EMPTY * (width - filled), "dim"))


class ChangedLines(Widget):
    """A widget drawn from a list of lines, each turned into a Strip once: take() a new list and only
    the lines whose content changed repaint (a full repaint of every panel each second was a good part
    of the TUI's CPU)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._lines: list = []
        self._strips: dict[int, Strip] = {}

    def take(self, new: list) -> None:
        if len(new) != len(self._lines):
            self._lines, self._strips = new, {}
            self.refresh()
            return
        changed = [y for y, (old, line) in enumerate(zip(self._lines, new)) if old != line]
        for y in changed:
            self._strips.pop(y, None)
        self._lines = new
        if changed:  # one refresh for all: each call has a cost of its own, and so has self.size
            width = self.size.width
            self.refresh(*(Region(0, y, width, 1) for y in changed))


class TextLines(ChangedLines):
    """A panel whose render() gives a few lines of Text."""

    def update_lines(self) -> None:
        """Call when the data changed (the subclasses' reactives do, with repaint off)."""
        if self.is_mounted:
            self.take(self._split())

    def _split(self) -> list[Text]:
        lines = list(self.render().split("\n", allow_blank=True))
        for line in lines:
            line.end = ""
        return lines

    def on_resize(self) -> None:
        self._lines, self._strips = self._split(), {}
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._lines):
            return Strip.blank(width)
        if y not in self._strips:
            line = self._lines[y].copy()
            line.truncate(width)
            self._strips[y] = Strip(list(line.render(self.app.console))).adjust_cell_length(width)
        return self._strips[y]
