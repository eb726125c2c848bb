"""Small text pieces the panels share: bars and right-aligned numbers, never parsed as markup."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

FULL, EMPTY = "█", "░"


def bar(value: float, peak: float, width: int) -> Text:
    """`████░░░░`: value as a share of peak, `width` cells."""
    filled = round(value / peak * width) if peak > 0 else 0
    return Text.assemble((FULL * filled, "green"), (EMPTY * (width - filled), "dim"))


def right(value: str) -> Text:
    return Text(value, justify="right")


class KeyTable(DataTable):
    """A row-cursor table whose Home and End go to the first and last row (DataTable's scroll sideways)."""

    BINDINGS = [
        Binding("home", "scroll_top", "first row", show=False),
        Binding("end", "scroll_bottom", "last row", show=False),
    ]
