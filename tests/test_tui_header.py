"""The trust line when the terminal is narrow: the name and the separators' spaces give way, and
every styled part (a DROP hook, PAUSED) still covers exactly its own text."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from bptraf.tui.widgets.header import Header, HeaderState, Hook


class One(App):
    def __init__(self, state: HeaderState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        yield Header()

    def on_mount(self) -> None:
        self.query_one(Header).state = self.state


STATE = HeaderState(
    hooks=(Hook("eth0", "native", "pass", 42), Hook("veth1", "generic", "drop", 43), Hook("eth2", "native", "drop")),
    interval_s=0.5,
    up_s=3723,
    ncpus=2,
    paused=True,
)


COMPACT = (
    "eth0 native pass prog 42│veth1 generic  DROP  prog 43│eth2 native  DROP │every 0.5s│up 01:02:03│2 CPUs│ PAUSED "
)


@pytest.mark.asyncio
async def test_a_narrow_trust_line_drops_the_spaces_and_keeps_each_style_on_its_text():
    app = One(STATE)
    async with app.run_test(size=(len(COMPACT) + 2, 3)) as pilot:
        await pilot.pause()
        line = app.query_one(Header).render()
    assert line.plain == COMPACT
    spans = [(line.plain[s.start : s.end], str(s.style)) for s in line.spans if str(s.style)]
    assert spans == [(" DROP ", "reverse red"), (" DROP ", "reverse red"), (" PAUSED ", "reverse yellow")]


async def test_before_any_state_the_header_is_the_name_and_too_narrow_it_ends_in_an_ellipsis():
    app = One(None)
    async with app.run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        assert app.query_one(Header).render().plain == "bptraf"
    app = One(STATE)
    async with app.run_test(size=(40, 3)) as pilot:
        await pilot.pause()
        line = app.query_one(Header).render()
    assert line.plain == COMPACT[:37] + "…" and line.cell_len == 38  # 40 less the padding

    app = One(STATE)
    async with app.run_test(size=(3, 3)) as pilot:  # one column inside the padding
        await pilot.pause()
        assert app.query_one(Header).render().plain == "…"
