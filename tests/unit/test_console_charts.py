"""The dashboard's SVG chart geometry."""

from __future__ import annotations

from datetime import date, timedelta

from mailer.web.console.charts import HEIGHT, bar_chart, line_chart, nice_ceiling

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(5)]


def test_nice_ceiling_rounds_up_to_1_2_5() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 3, 7, 12, 4999)] == [1, 0.5, 1, 5, 10, 20, 5000]


def test_a_line_has_gaps_where_there_is_no_data() -> None:
    chart = line_chart(DAYS, [("rate", [0.1, None, 0.2, 0.2, None])], percent=True)
    path = chart.lines[0].path
    assert path.count("M") == 2  # the pen lifts over the missing day
    assert path.count("L") == 1
    assert chart.lines[0].last == "20.0%"
    assert chart.y_ticks[-1][1] == "20%"  # the axis ends at the nice value at or above 0.2


def test_bars_only_for_days_with_sends_and_empty_is_said() -> None:
    chart = bar_chart(DAYS, [0, 10, 0, 5, 0])
    assert len(chart.bars) == 2
    tallest = min(chart.bars, key=lambda b: b[1])
    assert tallest[4].endswith(": 10")
    assert all(0 <= b[1] <= HEIGHT for b in chart.bars)
    assert bar_chart(DAYS, [0] * 5).empty
    assert line_chart(DAYS, []).empty


def test_count_axes_read_as_distinct_whole_numbers() -> None:
    # One signup in the window gave an axis reading "1, 1, 0, 0, 0".
    for values, expected in (
        ([0, 1, 0, 0, 0], ["0", "1"]),
        ([0, 2, 1, 0, 0], ["0", "1", "2"]),
        ([3, 0, 0, 0, 0], ["0", "1", "2", "3", "4", "5"]),
        ([0, 17, 0, 0, 0], ["0", "5", "10", "15", "20"]),
    ):
        ticks = [label for _, label in bar_chart(DAYS, values).y_ticks]
        assert ticks == expected, values
        line = line_chart(DAYS, [("signups", [float(v) for v in values])])
        assert [label for _, label in line.y_ticks] == expected


def test_small_percent_axes_keep_their_labels_apart() -> None:
    chart = line_chart(DAYS, [("rate", [0.001, 0.004, None, 0.002, 0.0])], percent=True)
    labels = [label for _, label in chart.y_ticks]
    assert len(set(labels)) == len(labels), labels
    assert labels[-1] == "0.5%"
