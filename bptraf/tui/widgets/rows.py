"""A lean table for numbers that change every second: a header and rows of plain text, drawn with
the Line API, each row's strip cached until its text changes.

DataTable re-renders every visible cell through Rich on any update; with the counters and the flows
changing once a second that was most of the TUI's CPU. Here a sample costs one string format per
changed row. Keys (when focused): ↑/↓, PageUp/PageDown, Home/End move the cursor, and the rows scroll
to keep it in view; the header says which rows are shown when not all fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

HEADER = Style(bold=True)
CURSOR = Style(reverse=True)
CURSOR_BLURRED = Style(underline=True)


@dataclass(frozen=True)
class Column:
    label: str
    width: int
    right: bool = True  # numbers align right, names left


def cell(text: str, col: Column) -> str:
    if len(text) > col.width:
        # A name is cut in the middle, so an endpoint keeps its port and a host name its domain.
        tail = 0 if col.right else min(6, col.width // 3)
        text = text[: col.width - 1 - tail] + "…" + (text[-tail:] if tail else "")
    return f"{text:>{col.width}}" if col.right else f"{text:<{col.width}}"


def line(texts: Sequence[str], columns: Sequence[Column]) -> str:
    return " " + "  ".join(cell(t, c) for t, c in zip(texts, columns))


class RowTable(Widget, can_focus=True):
    """Rows keyed by a string; `set_rows()` replaces them, the cursor stays on its key when it can."""

    DEFAULT_CSS = "RowTable { height: auto; }"
    BINDINGS = [
        Binding("up", "move(-1)", "up", show=False),
        Binding("down", "move(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "move(-1000000)", "first row", show=False),
        Binding("end", "move(1000000)", "last row", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to another row."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    def __init__(self, columns: Sequence[Column] = (), **kw) -> None:
        super().__init__(**kw)
        self.columns: tuple[Column, ...] = tuple(columns)
        self.keys: list[str] = []
        self.rows: list[tuple[str, ...]] = []
        self.cursor = 0
        self.top = 0  # the first row shown
        self._cache: dict[int, tuple[tuple, Strip]] = {}
        self._painted: tuple = ()  # what the last full paint showed: a change repaints every line

    def _view(self) -> tuple:
        return (self.top, self.cursor, len(self.rows), self.size, self.columns, self.has_focus)

    def refresh(self, *regions, **kw):
        if not regions:
            self._painted = self._view()
        return super().refresh(*regions, **kw)

    # -- data -----------------------------------------------------------------------------------
    def set_columns(self, columns: Sequence[Column]) -> None:
        if tuple(columns) != self.columns:
            self.columns = tuple(columns)
            self._cache.clear()
            self.refresh()

    def set_rows(self, rows: Sequence[tuple[str, tuple[str, ...]]], keep: str | None = None) -> None:
        """(key, cell texts) per row; only a change repaints."""
        keys = [k for k, _ in rows]
        texts = [t for _, t in rows]
        if keys == self.keys and texts == self.rows:
            return
        was = keep if keep is not None else self.selected()
        grew = len(keys) != len(self.keys)
        old = self.rows
        self.keys, self.rows = keys, texts
        if was in keys:
            self.cursor = keys.index(was)
        self._clamp()
        if grew:
            self.refresh(layout=True)
        elif self._painted != self._view():
            self.refresh()
        else:  # the same rows in place: repaint only those whose text changed, in one call
            width, height = self.size  # a widget's size is looked up through the screen: once
            changed = [
                Region(0, y, width, 1)
                for y, i in enumerate(range(self.top, min(self.top + height - 1, len(texts))), 1)
                if texts[i] != old[i]
            ]
            if changed:
                self.refresh(*changed)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def selected(self) -> str | None:
        return self.keys[self.cursor] if self.keys else None

    def row(self, key: str) -> tuple[str, ...]:
        return self.rows[self.keys.index(key)]

    def cell(self, key: str, label: str) -> str:
        return self.row(key)[[c.label for c in self.columns].index(label)]

    # -- keys -----------------------------------------------------------------------------------
    def _shown(self) -> int:
        return max(self.size.height - 1, 1)

    def _clamp(self) -> None:
        self.cursor = max(0, min(self.cursor, len(self.rows) - 1))
        shown = self._shown()
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + shown:
            self.top = self.cursor - shown + 1
        self.top = max(0, min(self.top, max(len(self.rows) - shown, 0)))

    def move_to(self, index: int) -> None:
        before = self.cursor
        self.cursor = index
        self._clamp()
        self.refresh()
        if self.cursor != before and self.keys:
            self.post_message(self.Highlighted(self, self.keys[self.cursor]))

    def action_move(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, step: int) -> None:
        self.move_to(self.cursor + step * self._shown())

    def on_resize(self) -> None:
        # The view changed size: show from the first row if the cursor can still be seen from there.
        if self.cursor < self._shown():
            self.top = 0
        self._clamp()
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- drawing --------------------------------------------------------------------------------
    def get_content_width(self, container, viewport) -> int:
        return len(line([c.label for c in self.columns], self.columns)) + 1

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.rows) + 1

    def _header(self, width: int) -> Strip:
        text = line([c.label for c in self.columns], self.columns)
        shown = self._shown()
        if len(self.rows) > shown:
            text += f"  {self.top + 1}-{min(self.top + shown, len(self.rows))}/{len(self.rows)}"
        return Strip([Segment(text, HEADER)]).adjust_cell_length(width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        i = self.top + y - 1
        if i >= len(self.rows):
            return Strip.blank(width)
        mark = (CURSOR if self.has_focus else CURSOR_BLURRED) if i == self.cursor else None
        key = (self.rows[i], mark, width, self.columns)
        hit = self._cache.get(i)
        if hit is None or hit[0] != key:
            hit = (key, Strip([Segment(line(self.rows[i], self.columns), mark)]).adjust_cell_length(width))
            self._cache[i] = hit
        return hit[1]
