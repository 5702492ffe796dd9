"""Small charts as inline SVG, drawn on the server: no script, nothing fetched, a few KB each. Pure.

The drawings are 400 units wide and scale to the width of their box (a phone's 375 px included); text is
sized so that it stays readable at that width. Counts get whole-number axes; dates are written in the
workbook's language.
"""
from __future__ import annotations

import math
from datetime import date
from html import escape

from .dates import short_day

COLORS = ("#2b7de9", "#00a870", "#e37318", "#8e56dd", "#d54941", "#0594fa", "#b5932a", "#5c6b7a", "#1a9c9c",
          "#c2185b")
WIDTH = 400
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 10, 26


def nice_ticks(high: float, integer: bool, count: int = 4) -> list[float]:
    """0 and up to `count` evenly spaced round values covering `high`; whole numbers only for counts."""
    high = max(high, 1.0 if integer else 0.0001)
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if integer:
        step = max(1, math.ceil(step))
    n = math.ceil(high / step - 1e-9)
    return [round(k * step, 6) for k in range(n + 1)]


def tick_text(value: float, integer: bool, percent: bool, money: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    text = f"{int(round(value)):,}" if integer or value == int(value) else f"{value:g}"
    return ("¥" + text) if money else text


def _x_labels(days: list[date], lang: str, x) -> list[str]:
    if not days:
        return []
    n = min(len(days), 4)
    picks = sorted({round(k * (len(days) - 1) / (n - 1)) for k in range(n)}) if n > 1 else [0]
    out = []
    for i in picks:
        anchor = "start" if i == 0 else ("end" if i == len(days) - 1 else "middle")
        out.append(f"<text x='{x(i):.1f}' y='{{bottom}}' text-anchor='{anchor}' class='ax'>"
                   f"{escape(short_day(days[i], lang))}</text>")
    return out


def line_chart(days: list[date], series: list[tuple[str, list]], lang: str, *, integer: bool, percent: bool = False,
               money: bool = False, marks: list[tuple[int, int]] = (), height: int = 200, label: str = "") -> str:
    """One line per series (name, values per day; None leaves a gap); `marks`: (series, day) drawn as ×."""
    values = [float(v) for _, vs in series for v in vs if v is not None]
    ticks = nice_ticks(max(values, default=0.0), integer and not percent)
    top = ticks[-1] or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)
    parts = [f"<svg viewBox='0 0 {WIDTH} {height}' role='img' aria-label='{escape(label)}' class='chart'>"]
    for t in ticks:
        parts.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y(t):.1f}' y2='{y(t):.1f}' class='grid'/>"
                     f"<text x='{LEFT - 4}' y='{y(t) + 4:.1f}' text-anchor='end' class='ax'>"
                     f"{escape(tick_text(t, integer, percent, money))}</text>")
    parts += [s.replace("{bottom}", str(height - 6)) for s in _x_labels(days, lang, x)]
    for k, (name, vs) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        runs, run = [], []
        for i, v in enumerate(vs):
            if v is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(f"{x(i):.1f},{y(float(v)):.1f}")
        if run:
            runs.append(run)
        for points in runs:
            if len(points) == 1:
                cx, cy = points[0].split(",")
                parts.append(f"<circle cx='{cx}' cy='{cy}' r='2.5' fill='{color}'/>")
            else:
                parts.append(f"<polyline points='{' '.join(points)}' fill='none' stroke='{color}' stroke-width='2' "
                             f"stroke-linejoin='round' data-series='{escape(name)}'><title>{escape(name)}</title></polyline>")
    for k, i in marks:
        v = series[k][1][i]
        if v is not None:
            cx, cy = x(i), y(float(v))
            parts.append(f"<path d='M{cx - 5:.1f},{cy - 5:.1f}L{cx + 5:.1f},{cy + 5:.1f}M{cx - 5:.1f},{cy + 5:.1f}"
                         f"L{cx + 5:.1f},{cy - 5:.1f}' class='drop'/>")
    parts.append("</svg>")
    return "".join(parts)


def timeline(days: list[date], rows: list[str], points: list[tuple[int, float, int, str]], lang: str,
             label: str = "") -> str:
    """Sends as ticks: rows (groups) down, days across; points are (row, day position, colour index, title)."""
    row_h = 34
    height = TOP + row_h * len(rows) + BOTTOM
    left = 8
    plot_w = WIDTH - left - RIGHT

    def x(pos: float) -> float:
        return left + (plot_w * pos / (len(days) - 1) if len(days) > 1 else plot_w / 2)
    parts = [f"<svg viewBox='0 0 {WIDTH} {height}' role='img' aria-label='{escape(label)}' class='chart'>"]
    for r, name in enumerate(rows):
        y0 = TOP + r * row_h
        parts.append(f"<text x='{left}' y='{y0 + 11}' class='ax rowname'>{escape(name)}</text>"
                     f"<rect x='{left}' y='{y0 + 15}' width='{plot_w}' height='{row_h - 18}' class='band'/>")
    for r, pos, colour, title in points:
        y0 = TOP + r * row_h
        parts.append(f"<line x1='{x(pos):.1f}' x2='{x(pos):.1f}' y1='{y0 + 15}' y2='{y0 + row_h - 3}' "
                     f"stroke='{COLORS[colour % len(COLORS)]}' stroke-width='2'><title>{escape(title)}</title></line>")
    parts += [s.replace("{bottom}", str(height - 6)) for s in _x_labels(days, lang, lambda i: x(i))]
    parts.append("</svg>")
    return "".join(parts)
