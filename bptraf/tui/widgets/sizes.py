"""Frame sizes: the last interval's packets per size bucket, as a one-row histogram."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from bptraf.tui.widgets.text import TextLines

BLOCKS = " ▁▂▃▄▅▆▇█"
CELL = 6  # columns a bucket: `≤1518` or ` █ 40%`


def short(label: str) -> str:
    """`65-127` -> `≤127`, `1519+` stays: the bucket's upper bound, so seven fit in 42 columns."""
    return label if label.endswith("+") else f"≤{label.split('-')[-1]}"


class Sizes(TextLines):
    """`≤64 ≤127 ...` over a bar and a share per bucket; hidden (no space) while sizes are off."""

    DEFAULT_CSS = "Sizes { width: 44; height: 3; }"
    counts: reactive[tuple[int, ...]] = reactive((), layout=False, repaint=False)

    def __init__(self, labels: tuple[str, ...], **kw) -> None:
        super().__init__(**kw)
        self.labels = labels

    def watch_counts(self) -> None:
        self.update_lines()

    def render(self) -> Text:
        counts = self.counts or (0,) * len(self.labels)
        total = sum(counts)
        peak = max(counts, default=0)
        out = Text("frame sizes (packets, last interval)", style="bold", no_wrap=True, overflow="ellipsis")
        out.append("\n" + "".join(f"{short(label):>{CELL}}" for label in self.labels))
        out.append("\n")
        for n in counts:
            level = round(n / peak * 8) if peak else 0
            share = f"{n / total * 100:.0f}%" if total else "-"
            out.append(f"{BLOCKS[level]:>2}", style="green")
            out.append(f"{share:>{CELL - 2}}")
        return out
