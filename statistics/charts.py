"""Bar charts as SVG, rendered on the server: no script and nothing fetched by the browser.

A report shown per month is a grouped bar chart (one group per month, one bar per category); a
report over a period has one bar per category. The completion report charts the share per month.
Every bar is a ``rect`` of class ``bar`` carrying its month, category and value as data attributes
(tests and assistive tools read them), with a ``title`` for the tooltip.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from intygstjanst.statistics import store
from intygstjanst.statistics.reports import Report

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 70
COLOURS = ("#1f5fa8", "#d9822b", "#3c8d40", "#b23b3b", "#6a4c93", "#1a9fa0", "#8c6d31", "#c2185b")
MONTH_NAMES = ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec")


def month_label(month: dt.date) -> str:
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def _nice_top(value: float) -> float:
    """The y axis' top: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def chart(report: Report) -> str:
    """The report as an SVG element (inline in the page)."""
    share = report.definition.key == store.COMPLETIONS
    # (group label, [(month text, category code, category label, value shown, value text)])
    groups: list[tuple[str, list[tuple[str, str, str, float, str]]]] = []
    if share:
        for month in report.months:
            value = report.share(month)
            percent = 100 * value if value is not None else 0.0
            groups.append((month_label(month), [(month.isoformat()[:7], "andel", "Andel med kompletteringsbegäran", percent, f"{percent:.1f} %")]))
    elif report.definition.per_month:
        for month in report.months:
            bars = [(month.isoformat()[:7], code, label, float(report.count(month, code)), str(report.count(month, code)))
                    for code, label in report.categories]
            groups.append((month_label(month), bars))
    else:
        for code, label in report.categories:
            total = report.category_total(code)
            groups.append((code if len(label) > 16 else label, [("", code, label, float(total), str(total))]))
    top = 100.0 if share else _nice_top(max((bar[3] for _, bars in groups for bar in bars), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-report="{report.definition.key}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(report.definition.title)}">'
    ]
    # Five steps: the tops 1, 2 or 5 times a power of ten divide into round numbers.
    for i in range(6):
        value = top * i / 5
        y = TOP + plot_h - plot_h * i / 5
        text = f"{value:.0f} %" if share else (f"{value:.0f}" if value == int(value) else f"{value:.1f}")
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{text}</text>')
    group_w = plot_w / max(len(groups), 1)
    for g, (group_label, bars) in enumerate(groups):
        bar_w = max(group_w * 0.8 / max(len(bars), 1), 1.0)
        x0 = LEFT + g * group_w + group_w * 0.1
        for b, (month_text, code, label, value, text) in enumerate(bars):
            height = plot_h * value / top if top else 0
            x = x0 + b * bar_w
            colour = COLOURS[(b if len(bars) > 1 else g) % len(COLOURS)]
            parts.append(
                f'<rect class="bar" data-month="{month_text}" data-category="{escape(code)}" data-value="{text.split()[0]}" '
                f'x="{x:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w * 0.92:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{escape(group_label)}: {escape(label)}: {escape(text)}</title></rect>"
            )
        cx = LEFT + g * group_w + group_w / 2
        parts.append(
            f'<text x="{cx:.1f}" y="{TOP + plot_h + 14}" font-size="10" text-anchor="end" '
            f'transform="rotate(-40 {cx:.1f} {TOP + plot_h + 14})">{escape(group_label)}</text>'
        )
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#333"/>')
    parts.append("</svg>")
    return "".join(parts)


def legend(report: Report) -> str:
    """The colours of a per-month chart's categories (the other charts label their bars)."""
    if not report.definition.per_month or report.definition.key == store.COMPLETIONS:
        return ""
    items = "".join(
        f'<li><span class="swatch" style="background:{COLOURS[i % len(COLOURS)]}"></span>{escape(label)}</li>'
        for i, (_, label) in enumerate(report.categories)
    )
    return f'<ul class="legend">{items}</ul>'
