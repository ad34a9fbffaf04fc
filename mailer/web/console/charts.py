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


def _divisions(top: float, whole: bool) -> int:
    """How many steps the y axis has: 4 where they are round; for counts, steps of whole
    numbers (an axis of 0 to 1 has one step, not "0, 0, 1, 1, 1")."""
    if not whole:
        return 4
    for steps in (4, 5, 2):
        if top >= steps and (top / steps).is_integer():
            return steps
    return 1


def _labels(values: list[float], percent: bool) -> list[str]:
    """As few decimals as keep every label distinct (0.5 %, 1 %, ... not 0 %, 1 %, 1 %)."""
    for decimals in range(4):
        labels = [f"{v:.{decimals}%}" if percent else f"{v:,.{decimals}f}" for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def _frame(days: list[date], top: float, *, percent: bool) -> Chart:
    chart = Chart()
    plot_h = HEIGHT - TOP - BOTTOM
    steps = _divisions(top, whole=not percent)
    values = [top * i / steps for i in range(steps + 1)]
    for i, label in enumerate(_labels(values, percent)):
        chart.y_ticks.append((TOP + plot_h - plot_h * i / steps, label))
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
    chart = _frame(days, top, percent=percent)
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
    chart = _frame(days, top, percent=False)
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
