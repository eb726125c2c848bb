"""The `?` screen: every key, built from the app's BINDINGS, so keys are declared once."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

NAMES = {"question_mark": "?", "plus": "+", "minus": "-", "equals_sign": "=", "space": "space", "ctrl+c": "Ctrl+C"}
NAMES |= {"full_stop": ".", "greater_than_sign": ">", "less_than_sign": "<", "tab": "Tab"}


def key_text(b: Binding) -> str:
    if b.key_display:
        return b.key_display
    return ", ".join(NAMES.get(k, k) for k in b.key.split(","))


def help_lines(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """(keys, what they do) per binding, in declaration order; bindings sharing a text show once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for b in bindings:
        entry = (key_text(b), b.tooltip or b.description)
        if entry not in seen:
            seen.add(entry)
            out.append(entry)
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__()
        self.entries = help_lines(bindings)

    def compose(self) -> ComposeResult:
        text = Text("bptraf keys\n\n", style="bold")
        # The tables' own keys (RowTable.BINDINGS) come last.
        entries = [*self.entries, ("↑ ↓ PgUp PgDn Home End", "move in the focused table (counters: the row plotted)")]
        wide = max(len(k) for k, _ in self.entries) + 2  # short keys set the column; a longer one gets a line
        for keys, what in entries:
            text.append(f" {keys:<{wide}}" if len(keys) < wide else f" {keys}\n {'':<{wide}}", style="bold")
            text.append(f"{what}\n")
        text.append("\nescape closes · ↑/↓ scroll this list", style="dim")
        with VerticalScroll(id="help"):
            yield Static(text)
