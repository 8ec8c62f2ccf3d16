"""``evoforge report RUN``: one self-contained HTML file to share a run (plus PNG plots).

Self-contained means it opens anywhere, offline, forever: inline CSS, inline SVG plots, no
scripts and no external URL at all (a report mailed around must not phone home). The same read
model as the dashboard (`data`) computes every number, so report and dashboard agree.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from ..engine.efficiency import best_after
from ..engine.objectives import ObjectiveSpec, front_summary
from ..errors import UserError
from . import data, plots
from .sources import RunHandle

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;margin:0;background:#f9fafb}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.sub{color:#6b7280;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:18px}.card span{color:#6b7280;font-size:12px}
figure{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:12px 0;padding:8px}
figure svg{width:100%;height:auto}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#0f172a;color:#e2e8f0;padding:12px;border-radius:8px;overflow:auto;font-size:12px;line-height:1.4}
.empty{color:#6b7280;font-style:italic}code{font-size:12px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 6) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] = frozenset(), empty: str = "none") -> str:  # type: ignore[assignment]
    if not rows:
        return f'<p class="empty">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{_e(_num(v))}</td>' if i in numeric else f"<td>{_e(_num(v))}</td>"
                         for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(items: list[tuple[str, Any]]) -> str:
    return '<div class="cards">' + "".join(f'<div class="card"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for k, v in items) + "</div>"


class _Figures:
    """Renders figures to inline SVG, and to PNG files when a folder is given."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def add(self, name: str, fig: Any, caption: str) -> str:
        svg, png = plots.render(fig)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{name}.png"
            path.write_bytes(png)
            self.written.append(path)
        return f'<figure id="plot-{_e(name)}">{svg}<figcaption class="sub">{_e(caption)}</figcaption></figure>'


def build_html(handle: RunHandle, png_folder: Path | None = None) -> tuple[str, list[Path]]:
    """The report's HTML text and the PNG files written."""
    store, info = handle.storage, handle.info
    usage_totals = store.usage_totals(handle.key)
    index = data.CallCache().get(handle, usage_totals)
    attempts = store.attempts(handle.key, with_code=False)
    rows = [data.attempt_row(a, index) for a in attempts]
    if not rows:
        raise UserError(f"run {info.name} has no attempts yet: nothing to report")
    best = data.best_of(handle)
    maximize = handle.maximize
    fails = data.failures(attempts)
    usage = data.usage(handle)
    figs = _Figures(png_folder)
    ok = [r for r in rows if r["status"] == "ok"]
    done = [r for r in rows if r["status"] != "pending"]
    parts: list[str] = []
    stop = info.meta.get("last_stop_reason", "")
    parts.append(f"<h1>{_e(info.name)}</h1><p class=\"sub\">task {_e(info.config.get('name', ''))} · "
                 f"{_e(info.config.get('direction', 'maximize'))} · started {_e(time.strftime('%Y-%m-%d %H:%M', time.localtime(info.created_at)))}"
                 f"{' · stopped: ' + _e(stop) if stop else ''}</p>")
    parts.append(_cards([
        ("best score", _num(best.score if best else None)), ("attempts", len(rows)), ("valid programs", len(ok)),
        ("failure rate", f"{100 * fails['failed'] / max(1, len(done)):.0f}%"),
        ("model calls", int(usage_totals.get("calls", 0))),
        ("tokens", int(usage_totals.get("input_tokens", 0) + usage_totals.get("output_tokens", 0))),
        ("cost", f"${usage_totals.get('cost_usd', 0.0):.4f}"),
        ("private score of best", _num(best.private_score if best else None)),
        ("best reached after", _best_after_text(best_after(store, handle.key, maximize))),
    ]))
    parts.append("<h2>Progress</h2>")
    parts.append(figs.add("scores", plots.scores_plot(rows, maximize), "Each dot is a valid program; grey ticks are failed attempts."))
    if usage_totals.get("cost_usd", 0) > 0:
        parts.append(figs.add("scores_vs_cost", plots.scores_plot(rows, maximize, "cum_cost", "cost (USD)"),
                              "Scores against cumulative model spend."))
    if len({r["island"] for r in ok}) > 1:
        parts.append(figs.add("islands", plots.island_plot(rows, maximize), "Best score reached on each island."))
    parts.extend(_front_section(info.config, attempts, figs))
    parts.append("<h2>Genealogy</h2>")
    parts.append(figs.add("genealogy", plots.tree_plot(rows, best.id if best else None, maximize), "Every attempt with its parent."))
    parts.append("<h2>Best programs</h2>")
    top = store.best_attempts(handle.key, 10, maximize=maximize)
    parts.append(_table(["#", "proposal", "score", "private", "island", "mutation", "model", "id"],
                        [[i + 1, a.proposal_index, a.score, a.private_score, a.island, a.mutation, a.model or "operator", a.id]
                         for i, a in enumerate(top)], {0, 1, 2, 3, 4}, "no valid program"))
    if best is not None:
        parts.append(f"<h2>Best program ({_e(best.id)}, score {_e(_num(best.score))})</h2><pre><code>{_e(best.code)}</code></pre>")
        if best.diff:
            parts.append(f"<details><summary>Diff against its parent</summary><pre><code>{_e(best.diff)}</code></pre></details>")
        if best.feedback:
            parts.append(f"<details><summary>Evaluator feedback</summary><pre><code>{_e(best.feedback)}</code></pre></details>")
    parts.append("<h2>Failures</h2>")
    if fails["reasons"]:
        top_reasons = fails["reasons"][:12]
        parts.append(figs.add("failures", plots.bar_plot([f"{g['status']}: {g['reason']}" for g in top_reasons],
                                                         [g["count"] for g in top_reasons], "Failures by reason", "attempts",
                                                         plots.FAIL_COLOR), "Most frequent failure reasons."))
    parts.append(_table(["status", "reason", "count", "example"],
                        [[g["status"], g["example_reason"] or g["reason"], g["count"], g["example"]] for g in fails["reasons"]],
                        {2}, "no failed attempt"))
    parts.append("<h2>Models and proposal kinds</h2>")
    parts.append(_table(["model", "calls", "errors", "tokens in", "tokens out", "cost (USD)", "mean latency (s)", "programs"],
                        [[m["model"], m["calls"], m["errors"], m["input_tokens"], m["output_tokens"], m["cost_usd"],
                          m["mean_latency_s"], m["programs"]] for m in usage["models"]], {1, 2, 3, 4, 5, 6, 7}, "no model call"))
    kinds = usage["kinds"]
    parts.append(_table(["kind", "trials", "valid", "improvements", "mean reward"],
                        [[k, s.get("trials", 0), s.get("valid", 0), s.get("improvements", 0),
                          (s.get("reward", 0.0) / s["trials"]) if s.get("trials") else None] for k, s in kinds.items()],
                        {1, 2, 3, 4}, "no proposal-kind statistics"))
    parts.append(_events_section(handle))
    parts.append(f'<p class="sub">Written by evoforge report on {_e(time.strftime("%Y-%m-%d %H:%M"))} from {_e(store.url)}.</p>')
    title = f"evoforge report: {info.name}"
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f"<body><main>{''.join(parts)}</main></body></html>\n")
    return page, figs.written


def _front_section(config: dict[str, Any], attempts: list[Any], figs: _Figures) -> list[str]:
    """A many-objective run: the front (scatter of the first two objectives, a table whose ids
    name the programs: `evoforge show RUN ID`) and its hypervolume over time."""
    spec = ObjectiveSpec.from_dict(config)
    if spec is None:
        return []
    summary = front_summary(spec, attempts)
    out = [f"<h2>Pareto front ({_e(spec.mode)})</h2>"]
    if not summary.front:
        return out + ['<p class="empty">no valid program yet</p>']
    if len(spec.names) >= 2:
        n0, n1 = spec.names[0], spec.names[1]
        points = [(a.metrics["objectives"][n0], a.metrics["objectives"][n1]) for a in attempts
                  if a.is_program and isinstance((a.metrics or {}).get("objectives"), dict)]
        front = [(v[n0], v[n1]) for _, v in summary.front]
        out.append(figs.add("front", plots.front_plot(points, front, (n0, n1), spec.maximize[:2]),
                            f"{len(summary.front)} non-dominated programs of {len(points)}."))
    if summary.history:
        out.append(figs.add("hypervolume", plots.hypervolume_plot(summary.history, max(a.proposal_index for a in attempts)),
                            f"Hypervolume from the reference point {list(spec.references)}: "
                            f"{_num(summary.hypervolume)} at the end."))
    out.append(_table(["proposal", *spec.names, "island", "mutation", "id"],
                      [[a.proposal_index, *(v[n] for n in spec.names), a.island, a.mutation, a.id] for a, v in summary.front],
                      set(range(len(spec.names) + 2))))
    return out


def _best_after_text(after: dict[str, int] | None) -> str:
    if not after:
        return "no program yet"
    return f"{after['model_calls']} model calls · {after['evaluations']} evaluations"


def _events_section(handle: RunHandle) -> str:
    events = data.events(handle)
    out = ["<h2>Safety</h2>"]
    safety = [e for e in events if e["kind"] in ("alert", "quarantine")]
    out.append(_table(["when", "kind", "details", "attempt"],
                      [[_when(e), e["kind"], _summary(e["payload"]), _attempt_of(e["payload"])] for e in safety],
                      empty="no safety alert and nothing quarantined"))
    out.append("<h2>Insights</h2>")
    insights = [e for e in events if e["kind"] == "insight"]
    out.append(_table(["when", "after proposal", "insight"],
                      [[_when(e), (e["payload"] or {}).get("index", "") if isinstance(e["payload"], dict) else "",
                        _summary(e["payload"])] for e in insights],
                      empty="no insight recorded"))
    return "".join(out)


_REFERENCE_KEYS = ("id", "attempt_id", "index")


def _when(event: dict[str, Any]) -> str:
    return time.strftime("%H:%M:%S", time.localtime(event["created_at"]))


def _attempt_of(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("attempt_id") or payload.get("id") or "")
    return ""


def _summary(payload: Any) -> str:
    """The human text of an event payload (its other fields after it, references left out)."""
    if isinstance(payload, dict):
        rest = {k: v for k, v in payload.items() if k not in _REFERENCE_KEYS}
        for key in ("text", "message", "insight", "reason"):
            if isinstance(rest.get(key), str):
                more = {k: v for k, v in rest.items() if k != key}
                return rest[key] + (f"  {more}" if more else "")
        return ", ".join(f"{k}: {v}" for k, v in rest.items())
    return str(payload)


def write_report(run: str | Path, output: Path | None = None, *, png: bool = True) -> Path:
    """Write the report of `run` and return its path. PNGs go to ``<report>_plots/``."""
    from ..engine.session import locate_run

    store, info, folder = locate_run(run, read_only=True)
    try:
        handle = RunHandle(info.id, store, info, str(run))
        if output is None:
            output = (folder / "report.html") if folder is not None else Path(f"report-{info.name}.html")
        output = Path(output)
        png_folder = output.with_name(output.stem + "_plots") if png else None
        page, _ = build_html(handle, png_folder)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write the report {output}: {exc.strerror or exc}") from None
        return output
    finally:
        store.close()
