/* evoforge dashboard: a tiny hand-written SVG plotting kit (no dependencies, no network).
 *
 * Why hand-written: the dashboard must work offline and from a wheel, and it needs only four
 * shapes of plot (scatter/step lines, bars, heatmaps, a tree), each a few dozen lines of SVG.
 * Every data mark carries class "pt" (scatter), "bar", "cell" or "node" and, when it stands for
 * an attempt, data-id, so tests and users can find and click them.
 */
"use strict";

const Plot = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const ISLAND_COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
  const VIRIDIS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];

  function el(tag, attrs, parent) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, str, attrs) {
    const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
    t.textContent = str;
    return t;
  }

  function title(node, str) {
    const t = el("title", {}, node);
    t.textContent = str;
  }

  /** Short, readable numbers: 0.000123 -> 1.23e-4, 123456 -> 1.23e+5, 2.5 -> 2.5 */
  function fmt(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return String(Number(v.toPrecision(digits || 4)));
  }

  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    return (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
  }

  function ticks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  /** Max/min of large arrays (spreading 100k values into Math.max overflows the call stack). */
  function maxOf(values) { let m = -Infinity; for (const v of values) if (v > m) m = v; return m; }
  function minOf(values) { let m = Infinity; for (const v of values) if (v < m) m = v; return m; }

  function extent(values, pad) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
    const d = (hi - lo) * (pad === undefined ? 0.05 : pad);
    return [lo - d, hi + d];
  }

  function lerpColor(a, b, t) {
    const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
    const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
    return "#" + pa.map((v, i) => Math.round(v + (pb[i] - v) * t).toString(16).padStart(2, "0")).join("");
  }

  /** Viridis colour for t in [0, 1] (1 = brightest, used for "best"). */
  function viridis(t) {
    t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
    const x = t * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
    return lerpColor(VIRIDIS[i], VIRIDIS[i + 1], x - i);
  }

  function isDark(hex) {
    if (typeof hex !== "string" || hex[0] !== "#" || hex.length < 7) return false;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return 0.299 * r + 0.587 * g + 0.114 * b < 140;
  }

  function frame(container, opts, margin) {
    const width = Math.max(320, opts.width || container.clientWidth || 720);
    const height = opts.height || 300;
    const svg = el("svg", { class: "plot " + (opts.cls || ""), viewBox: `0 0 ${width} ${height}`, width: "100%",
      preserveAspectRatio: "xMinYMin meet", role: "img", "aria-label": opts.title || "plot" });
    if (opts.id) svg.setAttribute("id", opts.id);
    container.appendChild(svg);
    if (opts.title) text(svg, 8, 16, opts.title, { class: "plot-title" });
    const m = Object.assign({ top: 28, right: 16, bottom: 40, left: 64 }, margin || {});
    return { svg, width, height, m, iw: width - m.left - m.right, ih: height - m.top - m.bottom };
  }

  function axes(f, xs, ys, opts) {
    const g = el("g", { class: "axes" }, f.svg);
    for (const v of ticks(ys.lo, ys.hi, Math.max(2, Math.floor(f.ih / 45)))) {
      const y = ys.map(v);
      el("line", { x1: f.m.left, x2: f.m.left + f.iw, y1: y, y2: y, class: "grid" }, g);
      text(g, f.m.left - 6, y + 4, fmt(v), { class: "tick", "text-anchor": "end" });
    }
    let xTicks = ticks(xs.lo, xs.hi, Math.max(2, Math.floor(f.iw / 90)));
    if (opts.xInteger) xTicks = xTicks.filter((v) => Number.isInteger(v));
    for (const v of xTicks) {
      const x = xs.map(v);
      el("line", { x1: x, x2: x, y1: f.m.top + f.ih, y2: f.m.top + f.ih + 4, class: "axis" }, g);
      text(g, x, f.m.top + f.ih + 17, (opts.xFormat || fmt)(v), { class: "tick", "text-anchor": "middle" });
    }
    el("line", { x1: f.m.left, x2: f.m.left + f.iw, y1: f.m.top + f.ih, y2: f.m.top + f.ih, class: "axis" }, g);
    el("line", { x1: f.m.left, x2: f.m.left, y1: f.m.top, y2: f.m.top + f.ih, class: "axis" }, g);
    if (opts.xLabel) text(g, f.m.left + f.iw / 2, f.height - 6, opts.xLabel, { class: "label", "text-anchor": "middle" });
    if (opts.yLabel) {
      text(g, 14, f.m.top + f.ih / 2, opts.yLabel,
        { class: "label", "text-anchor": "middle", transform: `rotate(-90 14 ${f.m.top + f.ih / 2})` });
    }
  }

  function scale(lo, hi, a, b) {
    return { lo, hi, map: (v) => a + ((v - lo) / (hi - lo || 1)) * (b - a) };
  }

  function legend(f, items) {
    let x = f.m.left + f.iw;
    const g = el("g", { class: "legend" }, f.svg);
    for (const it of items.slice().reverse()) {
      const w = 22 + it.name.length * 6.4;
      x -= w;
      if (it.kind === "line" || it.kind === "step") el("line", { x1: x, x2: x + 14, y1: 12, y2: 12, stroke: it.color, "stroke-width": 2 }, g);
      else el("circle", { cx: x + 7, cy: 12, r: 4, fill: it.color }, g);
      text(g, x + 18, 16, it.name, { class: "tick" });
    }
  }

  /**
   * Scatter and line plot. series: [{name, color, cls, r, kind: "dots"|"step"|"line"|"rug"|"hollow", points: [{x, y, id, tip, cls}]}].
   * A "rug" series (failures) is drawn as ticks under the x axis and does not set the y range.
   */
  function scatter(container, opts) {
    const f = frame(container, opts);
    const data = opts.series.filter((s) => s.kind !== "rug");
    const xsAll = [], ysAll = [];
    for (const s of opts.series) {
      for (const p of s.points) xsAll.push(p.x);
      if (s.extendTo !== undefined && s.points.length) xsAll.push(s.extendTo);
    }
    for (const s of data) for (const p of s.points) ysAll.push(p.y);
    const [xlo, xhi] = extent(xsAll, 0.02);
    const [ylo, yhi] = extent(ysAll, 0.06);
    const xs = scale(xlo, xhi, f.m.left, f.m.left + f.iw);
    const ys = scale(ylo, yhi, f.m.top + f.ih, f.m.top);
    axes(f, xs, ys, opts);
    if (!xsAll.length) {
      text(f.svg, f.m.left + f.iw / 2, f.m.top + f.ih / 2, opts.empty || "no data yet", { class: "empty-note", "text-anchor": "middle" });
    }
    for (const s of opts.series) {
      const g = el("g", { class: "series series-" + (s.kind || "dots") + (s.cls ? " " + s.cls : ""), "data-name": s.name }, f.svg);
      if (s.kind === "step" || s.kind === "line") {
        let d = "";
        s.points.forEach((p, i) => {
          const x = xs.map(p.x), y = ys.map(p.y);
          if (i === 0) d += `M${x},${y}`;
          else d += s.kind === "step" ? `H${x}V${y}` : `L${x},${y}`;
        });
        if (s.extendTo !== undefined && s.points.length) d += `H${xs.map(s.extendTo)}`;
        el("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 2, class: "line" }, g);
        continue;
      }
      for (const p of s.points) {
        let mark;
        if (s.kind === "rug") {
          const x = xs.map(p.x);
          mark = el("line", { x1: x, x2: x, y1: f.m.top + f.ih - 7, y2: f.m.top + f.ih, stroke: s.color, "stroke-width": 2, class: "rug" }, g);
        } else {
          mark = el("circle", { cx: xs.map(p.x), cy: ys.map(p.y), r: s.r || 3.5, class: "pt",
            fill: s.kind === "hollow" ? "none" : (p.color || s.color), stroke: s.kind === "hollow" ? s.color : "none" }, g);
        }
        if (p.id) mark.setAttribute("data-id", p.id);
        if (p.cls) mark.classList.add(...p.cls.split(" "));
        if (p.tip) title(mark, p.tip);
        if (opts.onClick && p.id) {
          mark.classList.add("clickable");
          mark.addEventListener("click", () => opts.onClick(p));
        }
      }
    }
    if (opts.legend !== false) legend(f, opts.series.filter((s) => s.name && s.points.length));
    return f.svg;
  }

  /** Horizontal bar chart: {labels, values, color, title, format, onClick(i), ids} */
  function bars(container, opts) {
    const longest = Math.max(4, ...opts.labels.map((l) => Math.min(l.length, 44)));
    const height = opts.height || 40 + opts.labels.length * 24;
    const f = frame(container, Object.assign({}, opts, { height }), { left: Math.min(320, 12 + longest * 6.6), bottom: 12, right: 60 });
    const max = Math.max(0, ...opts.values) || 1;
    const band = f.ih / Math.max(1, opts.labels.length);
    opts.labels.forEach((label, i) => {
      const y = f.m.top + i * band;
      const w = (opts.values[i] / max) * f.iw;
      const shown = label.length > 44 ? label.slice(0, 43) + "…" : label;
      text(f.svg, f.m.left - 6, y + band / 2 + 4, shown, { class: "tick", "text-anchor": "end" });
      const bar = el("rect", { x: f.m.left, y: y + band * 0.15, width: Math.max(1, w), height: band * 0.7,
        fill: (opts.colors && opts.colors[i]) || opts.color || "#2563eb", class: "bar", "data-label": label }, f.svg);
      title(bar, `${label}: ${(opts.format || fmt)(opts.values[i])}`);
      text(f.svg, f.m.left + w + 4, y + band / 2 + 4, (opts.format || fmt)(opts.values[i]), { class: "tick" });
      if (opts.onClick) { bar.classList.add("clickable"); bar.addEventListener("click", () => opts.onClick(i)); }
    });
    return f.svg;
  }

  /** Heatmap: {xLabels, yLabels, values[y][x] (null = empty cell), color(v), format, onClick(x, y)} */
  function heatmap(container, opts) {
    const cols = opts.xLabels.length, rows = opts.yLabels.length;
    const height = opts.height || Math.min(520, 70 + rows * Math.max(22, Math.min(44, 360 / Math.max(1, rows))));
    const f = frame(container, Object.assign({}, opts, { height }), { left: 100, bottom: 56 });
    const cw = f.iw / Math.max(1, cols), ch = f.ih / Math.max(1, rows);
    for (let y = 0; y < rows; y++) {
      text(f.svg, f.m.left - 6, f.m.top + (rows - y - 0.5) * ch + 4, opts.yLabels[y], { class: "tick", "text-anchor": "end" });
      for (let x = 0; x < cols; x++) {
        const v = opts.values[y][x];
        const cell = el("rect", { x: f.m.left + x * cw + 1, y: f.m.top + (rows - y - 1) * ch + 1, width: Math.max(1, cw - 2),
          height: Math.max(1, ch - 2), fill: v === null || v === undefined ? "#f3f4f6" : opts.color(v),
          class: v === null || v === undefined ? "cell empty" : "cell filled", rx: 2 }, f.svg);
        title(cell, `${opts.yLabels[y]} × ${opts.xLabels[x]}: ${v === null || v === undefined ? "empty" : (opts.format || fmt)(v)}`);
        if (opts.onClick && v !== null && v !== undefined) {
          cell.classList.add("clickable");
          cell.addEventListener("click", () => opts.onClick(x, y));
        }
        if (opts.showValues && v !== null && v !== undefined && cw > 34 && ch > 14) {
          text(f.svg, f.m.left + (x + 0.5) * cw, f.m.top + (rows - y - 0.5) * ch + 4, (opts.format || fmt)(v),
            { class: "cell-label", "text-anchor": "middle", fill: isDark(opts.color(v)) ? "#ffffff" : "#111827" });
        }
      }
    }
    const every = Math.ceil(cols / Math.max(1, Math.floor(f.iw / 60)));
    opts.xLabels.forEach((label, x) => {
      if (x % every === 0) text(f.svg, f.m.left + (x + 0.5) * cw, f.m.top + f.ih + 16, label, { class: "tick", "text-anchor": "middle" });
    });
    if (opts.xLabel) text(f.svg, f.m.left + f.iw / 2, f.height - 8, opts.xLabel, { class: "label", "text-anchor": "middle" });
    if (opts.yLabel) {
      text(f.svg, 14, f.m.top + f.ih / 2, opts.yLabel,
        { class: "label", "text-anchor": "middle", transform: `rotate(-90 14 ${f.m.top + f.ih / 2})` });
    }
    return f.svg;
  }

  return { NS, el, text, title, fmt, ticks, extent, maxOf, minOf, viridis, scatter, bars, heatmap, ISLAND_COLORS };
})();
