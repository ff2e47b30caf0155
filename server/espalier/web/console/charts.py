"""Server-made SVG charts: horizontal bars, one per (label, count); no script, no library."""
from __future__ import annotations

from markupsafe import Markup, escape

ROW, LABEL_WIDTH, BAR_WIDTH = 22, 170, 300


def bars(rows: list[tuple[str, int]], title: str) -> Markup:
    top = max((n for _, n in rows), default=0) or 1
    height = ROW * max(len(rows), 1) + 8
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{LABEL_WIDTH + BAR_WIDTH + 60}" '
             f'height="{height}" viewBox="0 0 {LABEL_WIDTH + BAR_WIDTH + 60} {height}"><title>{escape(title)}</title>']
    for i, (label, n) in enumerate(rows):
        y = 4 + i * ROW
        width = round(BAR_WIDTH * n / top)
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{ROW - 6}"></rect>'
                     f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 15}">{n}</text>')
    if not rows:
        parts.append('<text x="4" y="18">no devices yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
