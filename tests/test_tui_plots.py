"""The history plot's columns and lines, pure: which slot of time each interval fills, and the scale."""

from __future__ import annotations

from bptraf.tui.widgets.history import Series, axis_line, columns, nice_ceiling, plot_lines, span_text


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


def drawn(s, width, height):
    return ["".join(text for text, _ in line) for line in plot_lines(s, width, height)]


def test_a_plot_has_a_title_a_scale_with_its_half_and_a_time_axis():
    # 10 one-second slots; 100, 250, 400 and 50 pps in the last four seconds, on a 500 pps scale.
    s = series([7.0, 8.0, 9.0, 10.0], [1.0] * 4, [100.0, 250.0, 400.0, 50.0], now=10.0)
    assert drawn(s, 21, 6) == [
        "all pps  50 pps  · last 10 s",  # the last interval's value
        "   500 pps┤       ▂  ",
        "   250 pps┤       █  ",  # four rows: the second's bottom edge is half the scale
        "          │      ██  ",
        "         0┤     ▆██▃ ",
        "         └-10s────now",
    ]
    assert drawn(s, 21, 7)[1:6] == [  # five rows: no row ends at the half, so no half label
        "   500 pps┤          ",
        "          │       █  ",
        "          │      ▄█  ",
        "          │      ██  ",
        "         0┤     ███▄ ",
    ]
    assert drawn(s, 21, 3) == ["all pps  50 pps  · last 10 s", "   500 pps┤     ▂▄▆▁ ", "         └-10s────now"]
    assert drawn(s, 21, 2) == ["all pps  50 pps  · last 10 s", "   500 pps┤     ▂▄▆▁ "]  # no room for the axis
    assert plot_lines(s, 0, 5) == [] and plot_lines(s, 5, 0) == []


def test_long_intervals_draw_wide_steps_in_bits_on_a_round_scale():
    s = Series("UDP", "bps", 95.0, 300.0, [30.0, 60.0, 90.0], [30.0] * 3, [2e6, 9e6, 5e5])
    lines = plot_lines(s, 41, 6)
    assert ["".join(t for t, _ in line) for line in lines] == [
        "UDP bps  500.0 Kbps  · last 5 min",
        "10.00 Mbps┤                       ▅▅▅    ",
        " 5000 Kbps┤                       ███    ",
        "          │                       ███    ",
        "         0┤                    ▆▆▆███▂▂▂ ",
        "         └-300s──────────-150s────────now",
    ]
    # bps in cyan, the scale and the axis dim: pps and bps are told apart at a glance.
    assert [[str(style) for _, style in line] for line in lines] == [["cyan"]] + [["dim", "cyan"]] * 4 + [["dim"]]
    assert [str(style) for _, style in plot_lines(series([1.0], [1.0], [1.0], now=1.0), 20, 2)[1]] == ["dim", "green"]
    assert str(plot_lines(Series("x", "B/s", 1.0, 10.0, [1.0], [1.0], [1.0]), 20, 2)[0][0][1]) == "cyan"


def test_a_plot_with_no_data_says_so_in_its_unit():
    lines = plot_lines(Series("IPv4", "B/s", 0.0, 300.0), 20, 3)
    assert [(t, str(st)) for line in lines for t, st in line] == [
        ("IPv4 B/s", "cyan"),
        ("no data yet", "dim"),
        ("no data yet", "dim"),
    ]
    assert [(t, str(st)) for line in plot_lines(None, 20, 2) for t, st in line] == [
        ("", "green"),
        ("no data yet", "dim"),
    ]


def test_the_time_axis_ticks_as_the_width_allows():
    assert axis_line(60, 300.0) == "└-300s──────────-225s──────────-150s──────────-75s────────now"
    assert axis_line(40, 300.0) == "└-300s─────-225s─────-150s─────-75s───now"
    assert axis_line(39, 300.0) == "└-300s──────────────-150s────────────now"  # under 40: two ticks
    assert axis_line(16, 300.0) == "└-300s────────now"
    assert axis_line(15, 300.0) == "└-300s───────now"  # under 16: one tick
    assert axis_line(9, 300.0) == "└──────now"  # no room for its label
    assert axis_line(10, 300.0) == "└-300s──now"
    assert axis_line(3, 300.0) == "└now" and axis_line(2, 300.0) == "└──"


def test_span_and_scale_texts():
    assert [span_text(s) for s in (300.0, 90.0, 60.0, 59.0, 30.0)] == ["5 min", "1.5 min", "1 min", "59 s", "30 s"]
    tops = [nice_ceiling(v) for v in (0, -1, 0.03, 1, 1.5, 2, 2.2, 2.5, 3, 5, 7, 10, 123, 40_001)]
    assert tops == [1.0, 1.0, 0.05, 1, 2, 2, 2.5, 2.5, 5, 5, 10, 10, 200, 50_000]


def test_only_complete_intervals_are_drawn():
    # A period not yet recorded for the last end time (or a value): that interval is left out.
    s = series([98.0, 99.0, 100.0], [1.0, 1.0], [5.0, 7.0, 3.0], now=100.0)
    assert columns(s, 10) == [None] * 6 + [5.0, 7.0, None, None]
    s = series([98.0, 99.0, 100.0], [1.0, 1.0, 1.0], [5.0], now=100.0)
    assert columns(s, 10) == [None] * 6 + [5.0, None, None, None]
    s = series([98.0, 99.0, 100.0], [1.0, 1.0, 1.0], [], now=100.0)
    assert drawn(s, 21, 3)[:2] == ["all pps  0 pps  · last 10 s", "     1 pps┤          "]  # no value: nothing to say


def test_a_plot_too_narrow_for_its_columns_keeps_one():
    s = series([9.0, 10.0], [1.0, 1.0], [100.0, 300.0], now=10.0)
    # One column of 10 s: the slot that holds `now`, still filling, so empty on a scale of nothing.
    assert drawn(s, 11, 3) == ["all pps  300 pps  · last 10 s", "     1 pps┤ ", "         └──"]
    assert drawn(s, 12, 3)[1] == "     1 pps┤ "  # the same with one column to spare for the width
