"""Charts drawn on the server as SVG geometry (no script, no library, works offline); the
template turns the shapes into markup with every label escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

WIDTH, HEIGHT = 420, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 26
# Distinct for common colour blindness (Okabe-Ito), dark enough on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8A6D00")


@dataclass
class Line:
    label: str
    colour: str
    path: str
    last: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    lines: list[Line] = field(default_factory=list)
    bars: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    empty: bool = False


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten at or above value (so axis labels read well)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _frame(days: list[date], top: float, fmt: str) -> Chart:
    chart = Chart()
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        chart.y_ticks.append((TOP + plot_h - plot_h * i / 4, fmt.format(value)))
    step = max(1, len(days) // 6)
    for i in range(0, len(days), step):
        chart.x_ticks.append((_x(i, len(days)), f"{days[i]:%d %b}"))
    return chart


def _x(i: int, n: int) -> float:
    plot_w = WIDTH - LEFT - RIGHT
    return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * value / top


def line_chart(
    days: list[date], series: list[tuple[str, list[float | None]]], *, percent: bool = False
) -> Chart:
    """One line per series over the days; None is a gap (no data that day)."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = nice_ceiling(max(values, default=0.0))
    chart = _frame(days, top, "{:.0%}" if percent else "{:,.0f}")
    chart.empty = not values
    for n, (label, points) in enumerate(series):
        parts: list[str] = []
        pen_up = True
        for i, v in enumerate(points):
            if v is None:
                pen_up = True
                continue
            parts.append(f"{'M' if pen_up else 'L'}{_x(i, len(days)):.1f},{_y(v, top):.1f}")
            pen_up = False
        last = next((v for v in reversed(points) if v is not None), None)
        shown = "none" if last is None else (f"{last:.1%}" if percent else f"{last:,.0f}")
        chart.lines.append(Line(label, PALETTE[n % len(PALETTE)], " ".join(parts), shown))
    return chart


def bar_chart(days: list[date], values: list[int]) -> Chart:
    top = nice_ceiling(max(values, default=0))
    chart = _frame(days, top, "{:,.0f}")
    chart.empty = not any(values)
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    for i, v in enumerate(values):
        if v:
            x = LEFT + slot * i + slot * 0.15
            y = _y(v, top)
            chart.bars.append((x, y, slot * 0.7, HEIGHT - BOTTOM - y, f"{days[i]:%d %b}: {v:,}"))
    # Bars sit in slots, so day labels go to the middle of their slot.
    step = max(1, len(days) // 6)
    chart.x_ticks = [
        (LEFT + slot * (i + 0.5), f"{days[i]:%d %b}") for i in range(0, len(days), step)
    ]
    return chart
