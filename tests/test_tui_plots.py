"""The history plot's columns and lines, pure: which slot of time each interval fills, and the scale."""

from __future__ import annotations

from bptraf.tui.widgets.history import Series, columns, plot_lines


def series(times, periods, values, now, window_s=10.0, unit="pps"):
    return Series("all", unit, now, window_s, times, periods, values)


def test_each_interval_fills_the_slot_it_covers_and_empty_slots_say_none():
    # 1 s slots; the interval (97, 98] lands in slot 97, three columns left of now's slot 100.
    s = series([98.0, 99.0, 100.0], [1.0, 1.0, 1.0], [5.0, 7.0, 3.0], now=100.0)
    assert columns(s, 10) == [None] * 6 + [5.0, 7.0, 3.0, None]


def test_a_slot_shows_the_peak_of_the_intervals_in_it():
    s = series([98.5, 99.0, 99.5, 100.0], [0.5] * 4, [1.0, 4.0, 2.0, 3.0], now=100.0)
    assert columns(s, 5) == [None, None, None, 4.0, None]  # 2 s slots: all four in (98, 100]


def test_a_long_interval_draws_as_a_wide_step():
    s = series([100.0], [4.0], [9.0], now=100.0)
    assert columns(s, 10) == [None] * 5 + [9.0] * 4 + [None]


def test_intervals_older_than_the_window_neither_show_nor_set_the_scale():
    # -i 0.1 keeps 3000 intervals (300 s); the plot spans the last 10: a spike 100 s ago is out.
    times = [round(0.1 * (i + 1), 1) for i in range(3000)]
    values = [1e9 if i == 1000 else 400.0 for i in range(3000)]
    s = series(times, [0.1] * 3000, values, now=times[-1])
    assert columns(s, 20) == [400.0] * 19 + [None]  # the last slot has not started filling
    lines = plot_lines(s, 31, 5)
    assert lines[1][0][0].strip() == "500 pps┤"  # the scale: 400 rounded up, not the old spike
    # Three rows of 500/3 each: 400 fills the lower two and 3.2 eighths of the top one.
    assert [line[1][0] for line in lines[1:4]] == ["▃" * 19 + " ", "█" * 19 + " ", "█" * 19 + " "]


def test_no_history_gives_empty_columns():
    assert columns(series([], [], [], now=0.0), 4) == [None] * 4
    assert columns(series([1.0], [1.0], [1.0], now=1.0), 0) == []
