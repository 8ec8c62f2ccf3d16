"""Static plots for the report, drawn with matplotlib (the ``dashboard`` extra), imported lazily.

Each plot is rendered twice from one figure: inline SVG for the HTML report (crisp, searchable,
no external file) and a PNG for pasting into slides or chats. No pyplot: figures are built
directly so nothing depends on a display or global backend state.
"""
from __future__ import annotations

import io
import re
from typing import Any

from ..errors import require

ISLAND_COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"]
FAIL_COLOR = "#9ca3af"
BEST_COLOR = "#111827"


def _figure(width: float = 7.5, height: float = 3.4) -> Any:
    require("matplotlib", "dashboard", "writing a report's plots")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _style(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.grid(True, color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def best_so_far(points: list[tuple[float, float]], maximize: bool) -> list[tuple[float, float]]:
    """Running best of (x, score) points sorted by x."""
    out: list[tuple[float, float]] = []
    best: float | None = None
    for x, y in sorted(points):
        if best is None or (y > best if maximize else y < best):
            best = y
        out.append((x, best))
    return out


def scores_plot(rows: list[dict[str, Any]], maximize: bool, x_key: str = "index", xlabel: str = "proposal") -> Any:
    """Every valid score (coloured by island), failures as a rug, and the best-so-far step line."""
    fig = _figure()
    ax = fig.add_subplot()
    ok = [r for r in rows if r["status"] == "ok" and r["score"] is not None]
    for island in sorted({r["island"] for r in ok}):
        pts = [r for r in ok if r["island"] == island]
        ax.scatter([r[x_key] for r in pts], [r["score"] for r in pts], s=14, alpha=0.75,
                   color=ISLAND_COLORS[island % len(ISLAND_COLORS)], label=f"island {island}", linewidths=0)
    if ok:
        line = best_so_far([(r[x_key], r["score"]) for r in ok], maximize)
        ax.step([p[0] for p in line], [p[1] for p in line], where="post", color=BEST_COLOR, linewidth=1.6, label="best so far")
        failed = [r for r in rows if r["status"] not in ("ok", "pending")]
        if failed:
            lo, hi = ax.get_ylim()
            ax.plot([r[x_key] for r in failed], [lo] * len(failed), "|", color=FAIL_COLOR, markersize=8, label="failed")
            ax.set_ylim(lo, hi)
        ax.legend(fontsize=8, frameon=False, loc="best")
    _style(ax, xlabel, "score", f"Scores against {xlabel} ({'higher' if maximize else 'lower'} is better)")
    return fig


def bar_plot(labels: list[str], values: list[float], title: str, xlabel: str, color: str = "#2563eb") -> Any:
    """Horizontal bars, largest first (failure reasons, cost per model)."""
    fig = _figure(7.5, max(1.6, 0.32 * len(labels) + 0.9))
    ax = fig.add_subplot()
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=color, height=0.65)
    ax.set_yticks(ys, [label if len(label) <= 48 else label[:47] + "…" for label in labels], fontsize=8)
    _style(ax, xlabel, "", title)
    if all(float(v).is_integer() for v in values):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, axis="x", color="#e5e7eb")
    ax.grid(False, axis="y")
    return fig


def tree_layout(rows: list[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    """(x, depth) per attempt: leaves in depth-first order, parents centred over their children,
    so siblings stay together and the tree reads top-down (the dashboard uses the same idea)."""
    ids = {r["id"] for r in rows}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: r["index"]):
        parent = r["parent_id"] if r["parent_id"] in ids else None
        children.setdefault(parent, []).append(r)
    pos: dict[str, tuple[float, int]] = {}
    counter = [0.0]
    stack: list[tuple[dict[str, Any], int, bool]] = [(r, 0, False) for r in reversed(children.get(None, []))]
    while stack:  # iterative post-order: runs can be thousands of generations deep
        node, depth, expanded = stack.pop()
        kids = children.get(node["id"], [])
        if not kids:
            pos[node["id"]] = (counter[0], depth)
            counter[0] += 1
        elif expanded:
            pos[node["id"]] = ((pos[kids[0]["id"]][0] + pos[kids[-1]["id"]][0]) / 2, depth)
        else:
            stack.append((node, depth, True))
            stack.extend((k, depth + 1, False) for k in reversed(kids))
    return pos


def lineage(rows: list[dict[str, Any]], leaf: str | None) -> list[str]:
    by_id = {r["id"]: r for r in rows}
    out: list[str] = []
    while leaf is not None and leaf in by_id and leaf not in out:
        out.append(leaf)
        leaf = by_id[leaf]["parent_id"]
    return out


def tree_plot(rows: list[dict[str, Any]], best_id: str | None, maximize: bool = True) -> Any:
    """The genealogy: valid programs coloured by score, failures grey, the best's lineage bold."""
    pos = tree_layout(rows)
    depth = max((d for _, d in pos.values()), default=0)
    fig = _figure(7.5, min(9.0, max(2.6, 0.28 * depth + 1.4)))
    ax = fig.add_subplot()
    by_id = {r["id"]: r for r in rows}
    path = set(lineage(rows, best_id))
    for r in rows:
        if r["parent_id"] in pos and r["id"] in pos:
            (x0, y0), (x1, y1) = pos[r["parent_id"]], pos[r["id"]]
            on = r["id"] in path and r["parent_id"] in path
            mid = (y0 + y1) / 2
            ax.plot([x0, x0, x1, x1], [y0, mid, mid, y1], color=BEST_COLOR if on else "#d1d5db",
                    linewidth=1.6 if on else 0.6, zorder=1.5 if on else 1)
    ok = [r for r in rows if r["status"] == "ok" and r["score"] is not None and r["id"] in pos]
    bad = [r for r in rows if r not in ok and r["id"] in pos]
    ax.scatter([pos[r["id"]][0] for r in bad], [pos[r["id"]][1] for r in bad], s=10, color=FAIL_COLOR, zorder=2, label="failed")
    if ok:
        sc = ax.scatter([pos[r["id"]][0] for r in ok], [pos[r["id"]][1] for r in ok], s=22, zorder=3,
                        c=[r["score"] for r in ok], cmap="viridis" if maximize else "viridis_r", linewidths=0)
        fig.colorbar(sc, ax=ax, label="score (bright = better)", shrink=0.8)
    if best_id in pos and best_id in by_id:
        ax.scatter([pos[best_id][0]], [pos[best_id][1]], s=90, facecolors="none", edgecolors="#dc2626", linewidths=1.8, zorder=4)
    ax.invert_yaxis()
    ax.set_xticks([])
    _style(ax, "", "depth", "Genealogy (best program's lineage in bold, ringed in red)")
    ax.grid(False)
    return fig


def island_plot(rows: list[dict[str, Any]], maximize: bool) -> Any:
    """Best so far per island against proposals: are islands converging or diverging?"""
    fig = _figure(7.5, 3.0)
    ax = fig.add_subplot()
    ok = [r for r in rows if r["status"] == "ok" and r["score"] is not None]
    for island in sorted({r["island"] for r in ok}):
        line = best_so_far([(r["index"], r["score"]) for r in ok if r["island"] == island], maximize)
        ax.step([p[0] for p in line], [p[1] for p in line], where="post", linewidth=1.5,
                color=ISLAND_COLORS[island % len(ISLAND_COLORS)], label=f"island {island}")
    if ok:
        ax.legend(fontsize=8, frameon=False)
    _style(ax, "proposal", "best score", "Best score per island")
    return fig


_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)


def render(fig: Any) -> tuple[str, bytes]:
    """(inline SVG text without XML prolog or metadata, PNG bytes)."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "evoforge"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.find("<svg"):]
    svg = _METADATA.sub("", svg)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=130)
    return svg, png.getvalue()




def front_plot(points: list[tuple[float, float]], front: list[tuple[float, float]], names: tuple[str, str],
               maximize: tuple[bool, bool]) -> Any:
    """Every valid program on the first two objectives (raw values, as the evaluator gave them),
    the non-dominated ones highlighted and joined in order."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=12, alpha=0.5, color=FAIL_COLOR, linewidths=0,
               label="program")
    line = sorted(front)
    ax.plot([p[0] for p in line], [p[1] for p in line], "-o", color=ISLAND_COLORS[0], markersize=5, linewidth=1.2,
            label="front")
    ax.legend(fontsize=8, frameon=False, loc="best")
    arrow = lambda up: "higher" if up else "lower"  # noqa: E731
    _style(ax, f"{names[0]} ({arrow(maximize[0])} is better)", f"{names[1]} ({arrow(maximize[1])} is better)",
           "Pareto front")
    return fig


def hypervolume_plot(history: list[tuple[int, float]], last_index: int) -> Any:
    """The front's hypervolume after each proposal (a step line: it changes only when the front does)."""
    fig = _figure()
    ax = fig.add_subplot()
    xs = [i for i, _ in history] + [max(last_index, history[-1][0])]
    ys = [hv for _, hv in history] + [history[-1][1]]
    ax.step(xs, ys, where="post", color=BEST_COLOR, linewidth=1.6)
    _style(ax, "proposal", "hypervolume", "Hypervolume of the front (higher is better)")
    return fig
