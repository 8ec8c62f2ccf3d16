/* evoforge dashboard: state, polling and routing. Views live in views.js, plots in plots.js.
 *
 * Live updates are incremental: each run keeps `nextSince`, and a poll asks the server only for
 * attempts from that proposal index on (the server restarts it at the oldest attempt still in
 * flight, so an evaluation that finishes later still replaces its "pending" row).
 * Every string from the database (code, prompts, model replies) is inserted as text, never HTML.
 */
"use strict";

const POLL_MS = 1500;

/** h("div", {class: "x", onclick: f}, "text", child, [more]) -> element; strings become text nodes. */
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return node;
}

async function api(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

const App = {
  runs: [],
  runKey: null,
  stores: {},
  route: { view: "overview", arg: null },
  lastError: null,

  store(key) {
    key = key || this.runKey;
    if (!this.stores[key]) this.stores[key] = { rows: [], byId: new Map(), nextSince: 0, info: null, loaded: false, version: 0 };
    return this.stores[key];
  },

  run(key) {
    return this.runs.find((r) => r.key === (key || this.runKey)) || null;
  },

  maximize(key) {
    const s = this.store(key);
    const dir = (s.info && s.info.run.direction) || (this.run(key) || {}).direction;
    return dir !== "minimize";
  },

  /** Fetch what changed in one run; returns true when its rows changed. */
  async refresh(key) {
    const s = this.store(key);
    const res = await api(`/api/runs/${encodeURIComponent(key)}/poll?since_index=${s.nextSince}`);
    let changed = !s.loaded;
    for (const row of res.attempts) {
      const old = s.byId.get(row.id);
      if (!old || old.status !== row.status || old.score !== row.score) changed = true;
      s.byId.set(row.id, row);
    }
    if (changed) {
      s.rows = Array.from(s.byId.values()).sort((a, b) => a.index - b.index || a.created_at - b.created_at);
      s.version++;
    }
    const eventsChanged = JSON.stringify((s.info || {}).events) !== JSON.stringify(res.events);
    s.info = res;
    s.nextSince = res.next_since;
    s.loaded = true;
    const i = this.runs.findIndex((r) => r.key === key);
    if (i >= 0) this.runs[i] = res.run;
    return changed || eventsChanged;
  },

  async loadRuns() {
    const res = await api("/api/runs");
    this.runs = res.runs;
    const select = document.getElementById("run-select");
    const wanted = this.runs.map((r) => r.key).join(",");
    if (select.dataset.keys !== wanted) {
      select.replaceChildren(...this.runs.map((r) => h("option", { value: r.key }, `${r.name} (${r.attempts})`)));
      select.dataset.keys = wanted;
    }
    if (!this.runKey || !this.run(this.runKey)) this.runKey = this.runs.length ? this.runs[this.runs.length - 1].key : null;
    select.value = this.runKey || "";
  },

  parseHash() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
    if (parts[0] === "compare") return { run: null, view: "compare", arg: null };
    return { run: parts[0] || null, view: parts[1] || "overview", arg: parts[2] || null };
  },

  go(view, arg, run) {
    const key = run || this.runKey;
    location.hash = view === "compare" ? "#/compare" : `#/${encodeURIComponent(key)}/${view}${arg ? "/" + encodeURIComponent(arg) : ""}`;
  },

  async onRoute() {
    const r = this.parseHash();
    if (r.run && this.run(r.run)) this.runKey = r.run;
    this.route = { view: r.view, arg: r.arg };
    document.getElementById("run-select").value = this.runKey || "";
    if (this.runKey && !this.store().loaded) await this.refresh(this.runKey);
    this.updateNav();
    this.render(true);
  },

  /** Point the nav links at the current run; hide views this run has nothing for (a view
   * function may say so with `available(app)`, e.g. the front of a single-objective run). */
  updateNav() {
    for (const a of document.querySelectorAll("#nav a")) {
      const view = Views[a.dataset.view];
      a.classList.toggle("active", a.dataset.view === this.route.view);
      a.setAttribute("href", a.dataset.view === "compare" ? "#/compare" : `#/${encodeURIComponent(this.runKey || "")}/${a.dataset.view}`);
      a.hidden = !!(view && view.available && this.runKey && this.store().loaded && !view.available(this));
    }
  },

  /** Draw the current view; `full` also for views that keep user state (scroll, open sections). */
  render(full) {
    this.renderCards();
    const root = document.getElementById("view");
    const view = Views[this.route.view] || Views.overview;
    if (!full && view.static) return;
    if (!this.runKey && this.route.view !== "compare") {
      root.replaceChildren(h("div", { class: "empty-state" }, "No run in this storage yet. Start one with: evoforge run TASK_DIR"));
      return;
    }
    const scroll = { x: window.scrollX, y: window.scrollY };
    const inner = root.querySelector(".scroll-keep");
    const innerScroll = inner ? { l: inner.scrollLeft, t: inner.scrollTop } : null;
    try {
      const out = h("div", { class: "view view-" + this.route.view });
      this.fullRender = !!full;
      view(out, this);
      root.replaceChildren(out);
    } catch (err) {
      root.replaceChildren(h("div", { class: "error" }, "Could not draw this view: " + err.message));
      console.error(err);
    }
    const keep = root.querySelector(".scroll-keep");
    if (keep && innerScroll && !full) { keep.scrollLeft = innerScroll.l; keep.scrollTop = innerScroll.t; }
    if (!full) window.scrollTo(scroll.x, scroll.y);
  },

  renderCards() {
    const cards = document.getElementById("cards");
    const s = this.store();
    const live = document.getElementById("live");
    if (!this.runKey || !s.info || this.route.view === "compare") { cards.replaceChildren(); live.replaceChildren(); return; }
    const rows = s.rows, info = s.info, usage = info.usage || {};
    const done = rows.filter((r) => r.status !== "pending");
    const ok = rows.filter((r) => r.status === "ok" && r.score !== null);
    const failed = done.length - ok.length;
    const best = info.run.best;
    const card = (id, label, value, extra) => h("div", { class: "card", id: "card-" + id },
      h("b", { id: "stat-" + id }, value), h("span", {}, label), extra || null);
    const budget = (info.config || {}).budget || {};
    let progress = null;
    const total = budget.llm_calls !== null && budget.llm_calls !== undefined ? budget.llm_calls : budget.proposals;
    if (total) {
      const used = budget.llm_calls !== null && budget.llm_calls !== undefined ? usage.calls : Math.max(0, rows.length - 1);
      const elapsed = info.elapsed_s || 0;
      const eta = used > 0 && used < total && elapsed ? ` · ETA ${Math.round((elapsed / used) * (total - used))}s` : "";
      progress = card("budget", `${budget.llm_calls !== null && budget.llm_calls !== undefined ? "model calls" : "proposals"} of budget${eta}`,
        `${used}/${total}`);
    }
    cards.replaceChildren(
      card("best", "best score" + (best ? ` (#${best.index})` : ""), best ? Plot.fmt(best.score, 6) : "—"),
      card("attempts", "attempts", String(rows.length)),
      card("programs", "valid programs", String(ok.length)),
      card("failrate", "failure rate", done.length ? `${Math.round((100 * failed) / done.length)}%` : "—"),
      card("calls", "model calls", String(usage.calls || 0)),
      card("tokens", "tokens in/out", `${usage.input_tokens || 0}/${usage.output_tokens || 0}`),
      card("cost", "cost", `$${(usage.cost_usd || 0).toFixed(4)}`),
      ...(progress ? [progress] : []),
    );
    if (best) {
      const b = document.getElementById("card-best");
      b.classList.add("clickable");
      b.addEventListener("click", () => this.go("attempt", best.id));
    }
    const last = rows.length ? Plot.maxOf(rows.map((r) => r.created_at)) : 0;
    const meta = info.meta || {};
    const finished = meta.finished_at && meta.finished_at >= last;
    const running = rows.some((r) => r.status === "pending") || (!finished && Date.now() / 1000 - last < 60);
    const stop = finished ? meta.last_stop_reason : null;
    live.replaceChildren(h("span", { class: running ? "dot on" : "dot" }), running ? "live" : (stop ? `stopped: ${stop}` : "idle"));
  },

  async tick() {
    try {
      const keys = this.route.view === "compare" ? Views.compareKeys(this) : (this.runKey ? [this.runKey] : []);
      let changed = false;
      for (const k of keys) changed = (await this.refresh(k)) || changed;
      this.lastError = null;
      document.getElementById("conn").replaceChildren();
      this.updateNav();
      if (changed) this.render(false);
      else this.renderCards();
    } catch (err) {
      this.lastError = err;
      document.getElementById("conn").replaceChildren(h("span", { class: "error" }, "connection problem: " + err.message));
    }
  },

  async start() {
    document.getElementById("run-select").addEventListener("change", (e) => this.go(this.route.view === "compare" ? "overview" : this.route.view === "attempt" ? "overview" : this.route.view, null, e.target.value));
    window.addEventListener("hashchange", () => this.onRoute());
    try {
      await this.loadRuns();
    } catch (err) {
      document.getElementById("view").replaceChildren(h("div", { class: "error" }, "Cannot reach the dashboard server: " + err.message));
      return;
    }
    if (!location.hash && this.runKey) this.go("overview");
    else await this.onRoute();
    const loop = async () => {
      if (!document.hidden) await this.tick();
      setTimeout(loop, POLL_MS);
    };
    setTimeout(loop, POLL_MS);
    setInterval(() => this.loadRuns().catch(() => {}), 10000);
  },
};

window.addEventListener("DOMContentLoaded", () => App.start());
