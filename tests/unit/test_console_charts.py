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
