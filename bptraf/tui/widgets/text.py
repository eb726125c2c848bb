"""Small text pieces the panels share: bars and right-aligned numbers, never parsed as markup."""

from __future__ import annotations

from rich.text import Text

FULL, EMPTY = "█", "░"


def bar(value: float, peak: float, width: int) -> Text:
    """`████░░░░`: value as a share of peak, `width` cells."""
    filled = round(value / peak * width) if peak > 0 else 0
    return Text.assemble((FULL * filled, "green"), (EMPTY * (width - filled), "dim"))


def right(value: str) -> Text:
    return Text(value, justify="right")
