"""The one list of the TUI's keys: the app binds it, the footer shows those with show=True, and `?`
lists them all (help.py), so a key is declared once."""

from __future__ import annotations

from textual.binding import Binding


def _b(key: str, action: str, text: str, help_text: str = "", show: bool = True, **kw) -> Binding:
    return Binding(key, action, text, show=show, tooltip=help_text or text, **kw)


BINDINGS = [
    _b("question_mark", "help", "keys", "this list of keys"),
    _b("q", "quit", "quit", "quit (detaches everything)"),
    _b("ctrl+c", "quit", "quit", "quit", show=False, priority=True),
    _b("p,space", "pause", "pause", "pause the screen (live) or the replay; counting goes on"),
    _b("f", "flows", "flows", "count per flow, on or off (pass mode)"),
    _b("z", "sizes", "sizes", "frame-size histogram, on or off (pass mode)"),
    _b("h", "hide_idle", "idle rows", "hide or show classes that saw no packet"),
    _b("b", "bytes", "bits/bytes", "bits or bytes per second"),
    _b("r", "reset", "reset", "reset peaks, averages and totals shown (never the kernel maps)", show=False),
    _b("plus,equals_sign", "interval(1)", "+ivl", "longer interval", show=False, key_display="+"),
    _b("minus", "interval(-1)", "-ivl", "shorter interval", show=False, key_display="-"),
    _b("s", "flow_sort", "sort", "sort flows: bps/pps both ways, <= received, => sent; total", show=False),
    _b("g", "flow_group", "group", "group flows by flow, source, destination or port", show=False),
    _b("n", "names", "names", "host names for flows (reverse DNS, cached, never blocks)", show=False),
    _b(
        "tab",
        "focus_next",
        "focus",
        "move the keys' focus: counters (↑/↓ pick the plotted row), flows (scroll)",
        show=False,
    ),
    _b("i", "next_iface", "iface", "next interface", show=False),
    *(_b(str(n), f"iface({n - 1})", "iface", "interface 1-9", show=False, key_display="1-9") for n in range(1, 10)),
    _b("greater_than_sign", "speed(1)", "faster", "replay: faster", show=False),
    _b("less_than_sign", "speed(-1)", "slower", "replay: slower", show=False),
    _b("full_stop", "step", "step", "replay: one interval on, while paused", show=False),
]
