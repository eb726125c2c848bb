"""Per-CPU bars: XDP's packet rate on each CPU, so an RSS imbalance shows at a glance."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive

from bptraf.tui.widgets.text import TextLines, bar
from bptraf.units import rate

PER_COLUMN = 8  # CPUs a column before the bars wrap into another column


def lines_needed(ncpus: int) -> int:
    return 1 + min(ncpus, PER_COLUMN)


class PerCpu(TextLines):
    """`cpu0 ████░░ 8050 pps`, one bar per CPU, in columns of eight."""

    DEFAULT_CSS = "PerCpu { width: 1fr; height: auto; }"
    cpu_pps: reactive[tuple[float, ...]] = reactive((), layout=False, repaint=False)

    def __init__(self, ncpus: int, **kw) -> None:
        super().__init__(**kw)
        self.ncpus = ncpus

    def get_content_height(self, container, viewport, width: int) -> int:
        return lines_needed(self.ncpus)

    def watch_cpu_pps(self) -> None:
        self.update_lines()

    def render(self) -> Text:
        values = self.cpu_pps or (0.0,) * self.ncpus
        ncols = -(-len(values) // PER_COLUMN)
        width = max(self.size.width // max(ncols, 1) - 1, 12)
        label_w = len(f"cpu{len(values) - 1}") + 1
        bar_w = min(max(width - label_w - 11, 3), 24)
        peak = max(values, default=0.0)
        out = Text("per CPU (XDP pps)", style="bold", no_wrap=True, overflow="ellipsis")
        for row in range(min(len(values), PER_COLUMN)):
            out.append("\n")
            for col in range(ncols):
                i = col * PER_COLUMN + row
                if i >= len(values):
                    break
                out.append(f"{f'cpu{i}':<{label_w}}")
                out.append_text(bar(values[i], peak, bar_w))
                out.append(f" {rate(values[i], 'pps'):>10}" + (" " if col < ncols - 1 else ""))
        return out
