"""Each panel widget alone in a host app, fed state the way the panel feeds it: what it draws, line by
line, and how the table's keys move its cursor and say so."""

from __future__ import annotations

from textual import on
from textual.app import App

from bptraf.tui.widgets.percpu import PerCpu, lines_needed
from bptraf.tui.widgets.rows import Column, RowTable
from bptraf.tui.widgets.sizes import Sizes


class Host(App):
    CSS = "PerCpu { width: 60; }"

    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget
        self.highlighted: list[str] = []

    def compose(self):
        yield self.widget

    @on(RowTable.Highlighted)
    def _highlighted(self, event: RowTable.Highlighted) -> None:
        self.highlighted.append(event.key)


def shown(widget, n):
    return [widget.render_line(y).text.rstrip() for y in range(n)]


async def test_per_cpu_bars_are_shares_of_the_busiest_cpu():
    app = Host(PerCpu(2))
    async with app.run_test(size=(70, 12)) as pilot:
        await pilot.pause()
        assert shown(app.widget, 3) == [
            "per CPU (XDP pps)",
            "cpu0 ░░░░░░░░░░░░░░░░░░░░░░░░      0 pps",  # nothing yet: a bar per CPU, empty
            "cpu1 ░░░░░░░░░░░░░░░░░░░░░░░░      0 pps",
        ]
        app.widget.cpu_pps = (8050.0, 2000.0)
        await pilot.pause()
        assert shown(app.widget, 4) == [
            "per CPU (XDP pps)",
            "cpu0 ████████████████████████   8050 pps",
            "cpu1 ██████░░░░░░░░░░░░░░░░░░   2000 pps",  # 2000/8050 of 24 cells
            "",
        ]
        assert app.widget.size.height == lines_needed(2) == 3


async def test_per_cpu_bars_wrap_into_columns_of_eight():
    app = Host(PerCpu(10))
    async with app.run_test(size=(70, 12)) as pilot:
        app.widget.cpu_pps = tuple(100.0 * i for i in range(10))
        await pilot.pause()
        assert app.widget.size.height == lines_needed(10) == 9
        assert shown(app.widget, 10) == [
            "per CPU (XDP pps)",
            "cpu0 ░░░░░░░░░░░░░      0 pps cpu8 ████████████░    800 pps",
            "cpu1 █░░░░░░░░░░░░    100 pps cpu9 █████████████    900 pps",
            "cpu2 ███░░░░░░░░░░    200 pps",
            "cpu3 ████░░░░░░░░░    300 pps",
            "cpu4 ██████░░░░░░░    400 pps",
            "cpu5 ███████░░░░░░    500 pps",
            "cpu6 █████████░░░░    600 pps",
            "cpu7 ██████████░░░    700 pps",
            "",
        ]


async def test_size_histogram_bars_and_shares():
    app = Host(Sizes(("0-64", "65-127", "1519+")))
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        assert shown(app.widget, 3) == [
            "frame sizes (packets, last interval)",
            "   ≤64  ≤127 1519+",
            "     -     -     -",
        ]
        app.widget.counts = (3, 0, 1)
        await pilot.pause()
        assert shown(app.widget, 3) == [
            "frame sizes (packets, last interval)",
            "   ≤64  ≤127 1519+",
            " █ 75%    0% ▃ 25%",
        ]
        bars = [
            s.text for s in app.widget.render_line(2) if s.style and s.style.color and s.style.color.name == "green"
        ]
        assert bars == [" █", "  ", " ▃"]


def table():
    return RowTable([Column("name", 6, right=False), Column("n", 4)])


def rows(ids):
    """table()'s rows for these numbers: key k<i>, name r<i>, n <i>."""
    return [(f"k{i}", (f"r{i}", str(i))) for i in ids]


async def test_row_table_header_says_which_rows_are_shown_and_keys_move_the_cursor():
    app = Host(table())
    async with app.run_test(size=(30, 6)) as pilot:
        t = app.widget
        t.styles.height = 4  # the header and three rows
        t.set_rows(rows(range(10)))
        t.focus()
        await pilot.pause()
        assert shown(t, 4) == [" name       n  1-3/10", " r0         0", " r1         1", " r2         2"]
        assert [[str(s.style) for s in t.render_line(y)][0] for y in range(3)] == ["bold", "reverse", "None"]
        await pilot.press("up")  # already on the first row: no move, nothing said
        assert t.cursor == 0 and app.highlighted == []
        await pilot.press("down", "down", "down", "down")
        assert (t.cursor, t.top, app.highlighted) == (4, 2, ["k1", "k2", "k3", "k4"])
        assert shown(t, 2) == [" name       n  3-5/10", " r2         2"]
        await pilot.press("pagedown")
        assert (t.cursor, t.top, app.highlighted[-1]) == (7, 5, "k7")
        await pilot.press("end")
        assert (t.cursor, t.top) == (9, 7) and shown(t, 4)[0] == " name       n  8-10/10"
        await pilot.press("end")  # at the end already
        assert app.highlighted == ["k1", "k2", "k3", "k4", "k7", "k9"]
        await pilot.press("pageup")
        assert (t.cursor, t.top, t.selected()) == (6, 6, "k6")
        await pilot.press("home")
        assert (t.cursor, t.top, t.selected()) == (0, 0, "k0")


async def test_row_table_cursor_follows_its_key_and_stays_in_range():
    app = Host(table())
    async with app.run_test(size=(30, 6)) as pilot:
        t = app.widget
        t.styles.height = 4
        t.set_rows(rows(range(10)))
        t.focus()
        await pilot.pause()
        t.set_rows(rows(reversed(range(10))))  # k0 is now last
        await pilot.pause()
        assert (t.cursor, t.top, t.selected()) == (9, 7, "k0")
        assert shown(t, 4)[3] == " r0         0"
        t.set_rows(rows(range(3)))  # fewer rows: all fit, no range shown
        await pilot.pause()
        assert (t.cursor, t.top, t.selected()) == (0, 0, "k0")
        assert shown(t, 4) == [" name       n", " r0         0", " r1         1", " r2         2"]
        await pilot.press("end")
        t.set_rows([("x", ("only", "1"))])  # its key is gone: the cursor stays in range
        await pilot.pause()
        assert (t.cursor, t.selected(), t.row("x"), t.cell("x", "n")) == (0, "x", ("only", "1"), "1")
        t.blur()
        await pilot.pause()
        assert [str(s.style) for s in t.render_line(1)][0] == "underline"  # the cursor, unfocused
        t.set_rows([])
        await pilot.pause()
        assert t.selected() is None and shown(t, 2) == [" name       n", ""]


async def test_row_table_without_columns_draws_a_blank_header():
    app = Host(RowTable())
    async with app.run_test(size=(30, 6)) as pilot:
        await pilot.pause()
        assert app.widget.columns == () and shown(app.widget, 2) == ["", ""]


async def test_rows_that_shrink_show_from_the_first_when_all_fit():
    app = Host(table())
    async with app.run_test(size=(30, 6)) as pilot:
        t = app.widget
        t.styles.height = 4
        t.set_rows(rows(range(10)))
        t.focus()
        await pilot.press("end")
        assert (t.cursor, t.top) == (9, 7)
        t.set_rows(rows((7, 8, 9)))  # the cursor's row is the last of three
        await pilot.pause()
        assert (t.cursor, t.top, t.selected()) == (2, 0, "k9")
        assert shown(t, 4) == [" name       n", " r7         7", " r8         8", " r9         9"]


async def test_new_keys_with_the_same_texts_are_taken():
    app = Host(table())
    async with app.run_test(size=(30, 6)) as pilot:
        t = app.widget
        t.set_rows([("a", ("x", "1")), ("b", ("y", "2"))])
        await pilot.pause()
        t.set_rows([("c", ("x", "1")), ("d", ("y", "2"))])
        assert t.keys == ["c", "d"] and t.selected() == "c"


def spy_refresh(widget) -> list:
    """The regions each refresh of `widget` asks to repaint, from now on (its refresh still runs)."""
    painted = []
    real = widget.refresh

    def spy(*regions, **kw):
        painted.append(regions)
        return real(*regions, **kw)

    widget.refresh = spy
    return painted


async def test_a_changed_row_repaints_its_own_line_only():
    """Rows changing in place repaint the lines whose text changed, one line each, and nothing else:
    a missed line would leave stale figures on the terminal, an extra one costs CPU."""
    from textual.geometry import Region

    app = Host(table())
    async with app.run_test(size=(30, 8)) as pilot:
        t = app.widget
        t.styles.height = 4  # the header and three of the five rows
        five = rows(range(5))
        t.set_rows(five)
        await pilot.pause()
        painted = spy_refresh(t)
        t.set_rows(five)  # nothing changed
        assert painted == []
        changed = list(five)
        changed[2] = ("k2", ("r2", "99"))
        changed[4] = ("k4", ("r4", "77"))  # below the view: not on the screen
        t.set_rows(changed)
        assert painted == [(Region(0, 3, 30, 1),)]
        await pilot.pause()
        assert shown(t, 4)[3] == " r2        99"


async def test_a_panel_repaints_only_its_changed_lines():
    from textual.geometry import Region

    app = Host(Sizes(("0-64", "65-127", "1519+")))
    async with app.run_test(size=(60, 5)) as pilot:
        s = app.widget
        s.counts = (3, 0, 1)
        await pilot.pause()
        painted = spy_refresh(s)
        s.counts = (3, 0, 1)  # the same: nothing to paint
        s.counts = (1, 0, 3)  # the bars' line alone changes
        assert painted == [(Region(0, 2, 44, 1),)]
        await pilot.pause()
        assert shown(s, 3)[2] == " ▃ 25%    0% █ 75%"


async def test_per_cpu_lines_too_wide_end_in_an_ellipsis():
    class Narrow(Host):
        CSS = "PerCpu { width: 12; }"

    app = Narrow(PerCpu(2))
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        assert shown(app.widget, 3) == ["per CPU (XD…", "cpu0 ░░░   …", "cpu1 ░░░   …"]


async def test_a_table_as_tall_as_its_rows_grows_and_shrinks_with_them():
    app = Host(table())
    async with app.run_test(size=(30, 12)) as pilot:
        t = app.widget
        t.set_rows(rows(range(2)))
        await pilot.pause()
        assert t.size.height == 3  # the header and two rows
        t.set_rows(rows(range(5)))
        await pilot.pause()
        assert t.size.height == 6
        t.set_rows([("k0", ("r0", "0"))])
        await pilot.pause()
        assert t.size.height == 2
