"""Inline SVG charts (no CDN, no JavaScript): every label is escaped."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:g}" if isinstance(v, float) else str(v)


def bar_chart(
    points: list[dict], series: list[tuple[str, str, str]], *, title: str, width: int = 760, height: int = 200
) -> SafeString:
    """Grouped bars: one group per point (its "label"), one bar per series (key, name, colour)."""
    pad_l, pad_b, pad_t = 40, 34, 24
    inner_w, inner_h = width - pad_l - 10, height - pad_b - pad_t
    peak = max([p.get(k) or 0 for p in points for k, _n, _c in series] + [1])
    n = max(len(points), 1)
    group_w = inner_w / n
    bar_w = max(1.0, group_w * 0.8 / max(len(series), 1))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - 10}" y2="{pad_t + inner_h}" stroke="#999"/>',
        f'<text x="4" y="{pad_t + 4}" font-size="10">{escape(_fmt(peak))}</text>',
    ]
    every = max(1, n // 12)
    for i, p in enumerate(points):
        x0 = pad_l + i * group_w + group_w * 0.1
        for j, (key, name, colour) in enumerate(series):
            v = p.get(key) or 0
            h = inner_h * v / peak
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{pad_t + inner_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{escape(colour)}"><title>{escape(p["label"])} {escape(name)}: {escape(_fmt(v))}</title></rect>'
            )
        if i % every == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height - 18}" font-size="10">{escape(p["label"])}</text>')
    lx = pad_l
    for _key, name, colour in series:
        parts.append(
            f'<rect x="{lx}" y="4" width="10" height="10" fill="{escape(colour)}"/>'
            f'<text x="{lx + 14}" y="13" font-size="11">{escape(name)}</text>'
        )
        lx += 24 + 8 * len(str(name)) + 20
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text went through escape()


def distribution_chart(counts: list[tuple[str, int]], *, title: str, width: int = 360) -> SafeString:
    """Horizontal bars (satisfaction 1..5 stars)."""
    row_h = 22
    height = row_h * len(counts) + 10
    total = sum(c for _l, c in counts) or 1
    peak = max([c for _l, c in counts] + [1])
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, c) in enumerate(counts):
        y = 5 + i * row_h
        w = (width - 150) * c / peak
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="12">{escape(label)}</text>'
            f'<rect x="60" y="{y + 2}" width="{w:.1f}" height="14" fill="#f0a500"/>'
            f'<text x="{64 + w:.1f}" y="{y + 14}" font-size="11">{c} ({c * 100 / total:.0f}%)</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - escaped above
