"""The kernel's own interface counters beside XDP's count: RX and TX always, details as room allows."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from bptraf.tui.board import NicRates
from bptraf.tui.widgets.text import TextLines
from bptraf.units import rate


@dataclass(frozen=True)
class KernelView:
    nic: NicRates | None
    xdp_pps: float  # XDP's `all` rate over the same interval, to compare with the kernel's RX
    bytes_mode: bool = False
    missing: str = "waiting for a second read"  # why there are no figures yet


def lines(view: KernelView | None, width: int) -> list[Text]:
    """RX and TX first (one line when the width allows, the line always kept), then errors, then the ratio."""
    if view is None or view.nic is None:
        return [Text(f"kernel RX/TX: {view.missing if view else 'waiting for a second read'}", style="dim")]
    n = view.nic
    unit, scale = ("B/s", 8) if view.bytes_mode else ("bps", 1)
    rx = f"RX {rate(n.rx_pps, 'pps'):>11} {rate(n.rx_bps / scale, unit):>11}"
    tx = f"TX {rate(n.tx_pps, 'pps'):>11} {rate(n.tx_bps / scale, unit):>11}"
    ratio = f"{view.xdp_pps / n.rx_pps * 100:.1f}%" if n.rx_pps else "-"
    errors = f"errors rx {n.rx_errors} tx {n.tx_errors} · drops rx {n.rx_drops} tx {n.tx_drops}"
    one = f"kernel {rx}  {tx}"
    if len(one) <= width:
        return [Text(one), Text(f"{errors} · XDP/kernel RX {ratio}"), Text("")]
    return [Text(f"kernel {rx}"), Text(f"       {tx}"), Text(errors), Text(f"XDP / kernel RX: {ratio}")]


class Kernel(TextLines):
    """Fed a KernelView per sample; renders as many of its lines as its height holds."""

    DEFAULT_CSS = "Kernel { height: 2; }"
    view: reactive[KernelView | None] = reactive(None, layout=False, repaint=False)

    def watch_view(self) -> None:
        self.update_lines()

    def render(self) -> Text:
        shown = lines(self.view, self.size.width)[: max(self.size.height, 1)]
        return Text("\n").join(t for t in shown if t.plain or len(shown) == 1)
