"""The trust line (what is attached, how, which program, how often) and the drop banner."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

SEP = " │ "


@dataclass(frozen=True)
class Hook:
    iface: str
    mode: str  # native | generic | replay
    action: str  # pass | drop
    prog_id: int | None = None


@dataclass(frozen=True)
class HeaderState:
    hooks: tuple[Hook, ...]
    interval_s: float
    up_s: int
    ncpus: int
    paused: bool = False
    replay: str = ""  # `replay 2x · 2026-11-23 12:00:01`, empty when live


def trust_line(s: HeaderState) -> Text:
    """`bptraf │ eth0 native pass prog 42 │ every 1s │ up 00:01:02 │ 2 CPUs` (names as plain text)."""
    out = Text("bptraf", style="bold")
    for h in s.hooks:
        out.append(SEP)
        out.append(f"{h.iface} {h.mode} ")
        out.append(" DROP " if h.action == "drop" else "pass", style="reverse red" if h.action == "drop" else "")
        if h.prog_id:
            out.append(f" prog {h.prog_id}")
    out.append(f"{SEP}every {s.interval_s:g}s")
    if s.replay:
        out.append(f"{SEP}{s.replay}")
    else:
        up = s.up_s
        out.append(f"{SEP}up {up // 3600:02d}:{up % 3600 // 60:02d}:{up % 60:02d}")
    if s.ncpus:  # a replayed log has no per-CPU counts
        out.append(f"{SEP}{s.ncpus} CPUs")
    if s.paused:
        out.append(SEP)
        out.append(" PAUSED ", style="reverse yellow")
    return out


class Header(Widget):
    DEFAULT_CSS = "Header { height: 1; }"
    state: reactive[HeaderState | None] = reactive(None, layout=False)

    def render(self) -> Text:
        if not self.state:
            return Text("bptraf")
        line = trust_line(self.state)
        width = self.size.width - 2  # the padding
        if width > 0 and line.cell_len > width:
            # Narrow: the name and the separators' spaces give way before anything the line vouches for.
            line = line[len("bptraf │ ") :]
            compact = Text(line.plain.replace(SEP, "│"))
            for span in line.spans:
                compact.stylize(span.style, *_shift(line.plain, span.start, span.end))
            line = compact
            if line.cell_len > width:
                line.truncate(width, overflow="ellipsis")
        return line


def _shift(plain: str, start: int, end: int) -> tuple[int, int]:
    """Where [start, end) of `plain` lands once each separator loses its two spaces."""
    before = plain[:start].count(SEP) * 2
    inside = plain[start:end].count(SEP) * 2
    return start - before, end - before - inside


def banner_text(ifaces: tuple[str, ...], default_route: str | None) -> Text:
    """The drop warning: which interfaces, and whether one of them carries this host's default route."""
    text = Text(f"DROP MODE: every packet arriving on {', '.join(ifaces)} is being dropped")
    if default_route in ifaces:
        text.append(f" · {default_route} holds the default route: this host is cut off")
    return text


class Banner(Widget):
    DEFAULT_CSS = "Banner { height: auto; }"

    def __init__(self, text: Text, **kw) -> None:
        super().__init__(**kw)
        self.text = text

    def render(self) -> Text:
        return self.text
