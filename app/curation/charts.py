"""Server-rendered SVG charts for the dashboard (no charting library, nothing from a CDN).

Every label is escaped; the console inserts the SVG with DOMParser (the page's CSP forbids inline
script, and SVG built here carries none).
"""

from __future__ import annotations

from html import escape

PALETTE = ("#1f5fbf", "#d9822b", "#2e9d5b", "#c0392b", "#7d5ba6", "#5d6d7e")
W, H = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 44, 12, 28, 40


def _svg(body: str, title: str, width: int = W, height: int = H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">'
            f'<title>{escape(title)}</title>{body}</svg>')


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
        if value <= step * 4:
            return step * 4
    return value


def _axes(days: list[str], top: float, unit: str) -> str:
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    parts = []
    for i in range(5):
        y = PAD_T + plot_h - plot_h * i / 4
        value = top * i / 4
        label = f"{value:.0f}" if top >= 4 else f"{value:.2f}"
        parts.append(f'<line x1="{PAD_L}" y1="{y:.1f}" x2="{W - PAD_R}" y2="{y:.1f}" stroke="#e3e7ed"/>'
                     f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#667">{label}</text>')
    step = max(1, len(days) // 8)
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            x = PAD_L + plot_w * (i + 0.5) / len(days)
            parts.append(f'<text x="{x:.1f}" y="{H - PAD_B + 14}" text-anchor="middle" fill="#667">'
                         f'{escape(day[5:])}</text>')
    if unit:
        parts.append(f'<text x="{PAD_L}" y="{PAD_T - 8}" fill="#667">{escape(unit)}</text>')
    return "".join(parts)


def _legend(names: list[str]) -> str:
    parts, x = [], PAD_L
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{H - 14}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14}" y="{H - 5}" fill="#333">{escape(name)}</text>')
        x += 24 + 12 * len(name)
    return "".join(parts)


def stacked_bars(days: list[str], series: dict[str, list[int]], title: str, unit: str = "") -> str:
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(days))]
    if not names or not any(totals):
        return empty(title)
    top = _nice_max(max(totals))
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    bar_w = plot_w / len(days) * 0.7
    parts = [_axes(days, top, unit)]
    for i, day in enumerate(days):
        x = PAD_L + plot_w * (i + 0.5) / len(days) - bar_w / 2
        y = PAD_T + plot_h
        for k, name in enumerate(names):
            value = series[name][i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(day)} {escape(name)}：{value}</title></rect>')
    parts.append(_legend(names))
    return _svg("".join(parts), title)


def lines(days: list[str], series: dict[str, list[float | None]], title: str, unit: str = "",
          top: float | None = None) -> str:
    names = list(series)
    values = [v for n in names for v in series[n] if v is not None]
    if not values:
        return empty(title)
    top = top or _nice_max(max(values))
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    parts = [_axes(days, top, unit)]
    for k, name in enumerate(names):
        color = PALETTE[k % len(PALETTE)]
        points = [(PAD_L + plot_w * (i + 0.5) / len(days), PAD_T + plot_h - plot_h * min(v, top) / top, v, days[i])
                  for i, v in enumerate(series[name]) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v, day in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                         f'<title>{escape(day)} {escape(name)}：{v}</title></circle>')
    parts.append(_legend(names))
    return _svg("".join(parts), title)


def hbars(items: list[tuple[str, int]], title: str) -> str:
    if not items:
        return empty(title)
    row_h, label_w = 24, 300
    height = PAD_T + row_h * len(items) + 8
    top = max(v for _, v in items) or 1
    bar_space = W - label_w - 60
    parts = []
    for i, (label, value) in enumerate(items):
        y = PAD_T + i * row_h
        short = label if len(label) <= 24 else label[:23] + "…"
        width = bar_space * value / top
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" fill="#333">'
                     f'<title>{escape(label)}</title>{escape(short)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" fill="{PALETTE[0]}"/>'
                     f'<text x="{label_w + width + 4:.1f}" y="{y + 15}" fill="#333">{value}</text>')
    return _svg("".join(parts), title, height=height)


def empty(title: str) -> str:
    return _svg(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#889">所选时间内暂无数据</text>', title,
                height=80)
