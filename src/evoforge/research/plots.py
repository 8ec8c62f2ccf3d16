"""Plots of a report, drawn by trusted code from stored numbers only.

With matplotlib installed the figure is a PNG made by it; without, an SVG drawn here (bars with
±1 standard-deviation whiskers), so a report never needs an optional dependency. Either way
the file sits next to the report and the HTML embeds it, so the report stays self-contained.
"""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path


def bar_chart(path_stem: Path, title: str, labels: list[str], means: list[float | None],
              spreads: list[float | None], ylabel: str) -> Path:
    """Write the chart as PNG (matplotlib) or SVG; returns the file written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        out = path_stem.with_suffix(".svg")
        out.write_text(svg_bars(title, labels, means, spreads, ylabel), encoding="utf-8")
        return out
    fig, ax = plt.subplots(figsize=(5.5, 3.2), dpi=110)
    xs = list(range(len(labels)))
    ax.bar(xs, [m or 0.0 for m in means], yerr=[s or 0.0 for s in spreads], capsize=4, color="#4c78a8")
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out = path_stem.with_suffix(".png")
    fig.savefig(out)
    plt.close(fig)
    return out


def svg_bars(title: str, labels: list[str], means: list[float | None], spreads: list[float | None],
             ylabel: str) -> str:
    width, height, left, bottom, top = 560, 320, 60, 50, 30
    tops = [(m or 0.0) + (s or 0.0) for m, s in zip(means, spreads)] or [1.0]
    high = max(max(tops), 1e-12)
    plot_h = height - bottom - top
    step = (width - left - 20) / max(1, len(labels))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
             f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#333"/>',
             f'<text x="14" y="{top + plot_h / 2}" font-size="11" transform="rotate(-90 14 {top + plot_h / 2})" '
             f'text-anchor="middle">{escape(ylabel)}</text>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{high:.3g}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" font-size="10" text-anchor="end">0</text>']
    for k, (label, m, s) in enumerate(zip(labels, means, spreads)):
        x = left + k * step + step * 0.2
        w = step * 0.6
        h = plot_h * (m or 0.0) / high
        y = height - bottom - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#4c78a8"/>')
        if s:
            y1, y2 = height - bottom - plot_h * ((m or 0) + s) / high, height - bottom - plot_h * max(0.0, (m or 0) - s) / high
            cx = x + w / 2
            parts.append(f'<line x1="{cx:.1f}" y1="{y1:.1f}" x2="{cx:.1f}" y2="{y2:.1f}" stroke="#000"/>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{height - bottom + 16}" font-size="10" text-anchor="middle">'
                     f'{escape(label)}</text>')
        if m is None:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{height - bottom - 4}" font-size="10" text-anchor="middle">'
                         'failed</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def embed(path: Path) -> str:
    """An <img> with the figure inline (data URI), so the HTML report is one file."""
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(path.stem)}" src="data:{mime};base64,{data}">'
