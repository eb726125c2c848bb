"""Bars the panels share, as Text (never parsed as markup)."""

from __future__ import annotations

from rich.text import Text

FULL, EMPTY = "█", "░"


def bar(value: float, peak: float, width: int) -> Text:
    """`████░░░░`: value as a share of peak, `width` cells."""
    filled = round(value / peak * width) if peak > 0 else 0
    return Text.assemble((FULL * filled, "green"), (EMPTY * (width - filled), "dim"))
