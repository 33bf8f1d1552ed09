// Coinstream dashboards: one page, three views (#/creator, #/analyst, #/ops), drawn from the
// read API's /v1/dashboard/* JSON with the bearer token kept in sessionStorage. The server
// decides who sees what; this page only draws it. Every chart has its numbers in a table beside
// it (data-col attributes) and a CSV download named after the analytics.* view it reads.
"use strict";
const KEY = "coinstream.token";
const app = document.getElementById("app");
const charts = [];

function token() { return sessionStorage.getItem(KEY); }

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function clear(state) {
  charts.splice(0).forEach((c) => c.dispose());
  app.replaceChildren();
  app.dataset.state = state;
  document.getElementById("nav").hidden = !token();
}

function claims() {
  try {
    const part = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) { return {}; }
}

function signin(message) {
  sessionStorage.removeItem(KEY);
  clear("signin");
  const area = el("textarea", { id: "token", name: "token", placeholder: "eyJ…", required: "" });
  const form = el("form", { class: "signin" },
    el("h1", { text: "Sign in" }),
    el("label", { for: "token", text: "Paste the bearer token you use with the APIs" }), area,
    el("button", { type: "submit", id: "signin", text: "Sign in" }));
  if (message) app.append(el("p", { class: "problem", id: "signin-message", text: message }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, area.value.trim());
    const roles = claims().roles || [];
    const view = roles.includes("creator") ? "#/creator"
      : roles.includes("analyst") ? "#/analyst" : roles.includes("admin") ? "#/ops" : "#/creator";
    if (location.hash === view) route(); else location.hash = view;
  });
  app.append(form);
}

function problemPage(state, title, detail) {
  clear(state);
  app.append(el("section", { class: "problem", id: "problem" },
    el("h1", { text: title }), el("p", { text: detail || "" })));
}

async function load(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  let body = {};
  try { body = await r.json(); } catch (e) { /* not JSON: a proxy's page */ }
  if (r.status === 401) { signin(`Signed out: ${body.detail || "the token was refused"}`); return null; }
  if (r.status === 403) { problemPage("forbidden", "403 — not allowed", body.detail); return null; }
  if (!r.ok) {
    problemPage("problem", body.title || `Error ${r.status}`, body.detail || r.statusText);
    return null;
  }
  return body;
}

function csv(columns, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n");
}

// A panel: title, the view it reads, a CSV link, a chart (when there are rows) and the table.
function panel(grid, key, title, data, columns, option, empty = "Nothing here yet for this range.") {
  const rows = data.rows;
  const section = el("section", { class: "panel", "data-panel": key, "data-view": data.view,
    "data-rows": rows.length });
  const link = el("a", { class: "csv", download: `${data.view}.csv`, "data-csv": key,
    href: "data:text/csv;charset=utf-8," + encodeURIComponent(csv(columns, rows)),
    text: "CSV" });
  section.append(link, el("h2", { text: title }), el("p", { class: "source", text: `reads ${data.view}` }));
  if (!rows.length) {
    section.append(el("p", { class: "empty", text: empty }));
    grid.append(section);
    return;
  }
  if (option) {
    const div = el("div", { class: "chart" });
    section.append(div);
    grid.append(section);
    const chart = echarts.init(div);
    chart.setOption({ tooltip: {}, grid: { containLabel: true, left: 8, right: 8 }, ...option(rows) });
    charts.push(chart);
  } else {
    grid.append(section);
  }
  const table = el("table", {},
    el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { text: c })))),
    el("tbody", {}, ...rows.map((r, i) => el("tr", { "data-row": i },
      ...columns.map((c) => el("td", { "data-col": c, class: typeof r[c] === "number" ? "num" : "",
        text: r[c] === null || r[c] === undefined ? "" : String(r[c]) }))))));
  section.append(el("div", { class: "table-wrap" }, table));
}

function missing(grid, items) {
  for (const m of items) {
    grid.append(el("section", { class: "panel missing", "data-panel": m.key, "data-missing": "" },
      el("h2", { text: m.title }), el("p", { text: `Not collected yet: ${m.why}.` })));
  }
}

const bars = (x, series, horizontal = false) => (rows) => {
  const axis = { type: "category", data: rows.map((r) => r[x]) };
  return {
    legend: { top: 0 },
    xAxis: horizontal ? { type: "value" } : axis,
    yAxis: horizontal ? { ...axis, inverse: true } : { type: "value" },
    series: series.map((s) => ({ name: s, type: "bar", data: rows.map((r) => Number(r[s])) })),
  };
};
const pie = (name, value) => (rows) => ({
  series: [{ type: "pie", radius: "65%", data: rows.map((r) => ({ name: r[name], value: Number(r[value]) })) }],
});

function params() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  return q;
}

// The day range, and any other fields of the view's query ([name, value, label]).
function rangeForm(range, fields = []) {
  const from = el("input", { type: "date", name: "from", value: range.from });
  const to = el("input", { type: "date", name: "to", value: range.to });
  const more = fields.map(([name, value, label]) =>
    [name, el("input", { type: "text", name, id: name, value: value || "", placeholder: label }), label]);
  const form = el("form", { class: "range", id: "range" },
    el("label", {}, "From ", from), el("label", {}, "To ", to),
    ...more.map(([, input, label]) => el("label", {}, `${label} `, input)),
    el("button", { type: "submit", text: "Show" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ from: from.value, to: to.value });
    for (const [name, input] of more) if (input.value.trim()) q.set(name, input.value.trim());
    location.hash = `${location.hash.split("?")[0]}?${q.toString()}`;
  });
  return form;
}

function freshness(f) {
  const age = f.age_seconds === null ? "no events projected yet" : `newest event ${Math.round(f.age_seconds)} s ago`;
  return el("p", { class: "source", id: "freshness", text: `Read models: ${age}; lag ${f.lag_events ?? "unknown"} messages.` });
}

async function creatorView(path) {
  const q = params();
  const who = path[1] ? `&creator_id=${encodeURIComponent(path[1])}` : "";
  const body = await load(`/v1/dashboard/creator?${q.toString()}${who}`);
  if (!body) return;
  clear("creator");
  app.dataset.subject = body.creator_id;
  app.append(el("h1", { text: `Creator ${body.creator_id}` }), rangeForm(body.range), freshness(body.freshness));
  const p = body.panels;
  const t = p.totals.rows[0] || {};
  const stats = el("section", { class: "panel", "data-panel": "totals", "data-view": p.totals.view },
    el("h2", { text: "Diamonds" }), el("p", { class: "source", text: `reads ${p.totals.view}` }));
  const grid = el("div", { class: "stats" });
  for (const k of ["diamonds_earned", "diamonds_available", "diamonds_held", "diamonds_pending", "diamonds_paid"]) {
    grid.append(el("div", { class: "stat", "data-stat": k }, el("b", { text: String(t[k] ?? 0) }), k.replace("diamonds_", "")));
  }
  // The next reserve release: the oldest lot still held (analytics.reserve_lots).
  const next = p.reserve.rows[0];
  grid.append(el("div", { class: "stat", "data-stat": "next_release" },
    el("b", { text: next ? String(next.diamonds) : "0" }),
    next ? `next release ${next.release_at.replace("T", " ").slice(0, 16)} UTC` : "nothing held"));
  stats.append(grid);
  if (!p.totals.rows.length) stats.append(el("p", { class: "empty", id: "empty", text: "No diamonds yet: gifts you receive show up here." }));
  const panels = el("div", { class: "grid" });
  app.append(stats, el("br"), panels);
  panel(panels, "days", "Diamonds per day", p.days, ["day", "credits", "coins", "diamonds_earned", "diamonds_paid"],
    bars("day", ["diamonds_earned", "diamonds_paid"]));
  panel(panels, "streams", "Diamonds per live stream", p.streams, ["stream_id", "credits", "coins", "diamonds"],
    bars("stream_id", ["diamonds"]));
  panel(panels, "gift_types", "Coins per gift type (combos)", p.gift_types, ["gift_code", "gifts", "quantity", "coins"],
    pie("gift_code", "coins"));
  panel(panels, "stream_gifters", `Top gifters of ${body.stream_id || "a stream"}`, p.stream_gifters,
    ["rank", "sender_id", "gifts", "quantity", "coins"], bars("sender_id", ["coins"], true));
  panel(panels, "gifters", "Top gifters over time", p.gifters, ["sender_id", "streams", "gifts", "coins"],
    bars("sender_id", ["coins"], true));
  panel(panels, "reserve", "Reserve: the next releases", p.reserve, ["release_at", "credits", "diamonds"],
    (rows) => bars("when", ["diamonds"])(rows.map((r) =>
      ({ when: r.release_at.replace("T", " ").slice(0, 16), diamonds: r.diamonds }))),
    "Nothing held in reserve.");
  panel(panels, "payouts", "Payout history", p.payouts,
    ["payout_id", "requested_at", "diamonds", "currency", "amount_minor", "method", "status", "completed_at"]);
  missing(panels, body.missing);
}

// Every minute from the stream's first gift to its last (a quiet minute is a 0, not a gap),
// at most a day of them, as the server caps the rows.
function giftsPerMinute(rows) {
  const by = new Map(rows.map((r) => [Date.parse(r.minute), r.gifts]));
  const first = Date.parse(rows[0].minute), last = Date.parse(rows[rows.length - 1].minute);
  const minutes = [], gifts = [];
  for (let t = first; t <= last && minutes.length < 1440; t += 60000) {
    minutes.push(new Date(t).toISOString().slice(11, 16));
    gifts.push(by.get(t) || 0);
  }
  return { legend: { top: 0 }, xAxis: { type: "category", data: minutes },
    yAxis: { type: "value", minInterval: 1 }, series: [{ name: "gifts", type: "bar", data: gifts }] };
}

async function analystView() {
  const body = await load(`/v1/dashboard/analyst?${params().toString()}`);
  if (!body) return;
  clear("analyst");
  app.append(el("h1", { text: "Analyst" }),
    rangeForm(body.range, [["stream_id", body.stream_id, "Stream"]]), freshness(body.freshness));
  const p = body.panels;
  const grid = el("div", { class: "grid" });
  app.append(grid);
  // Money is never summed across currencies: the chart stacks each settlement currency's net.
  panel(grid, "revenue", "Revenue by day × country × currency × channel", p.revenue,
    ["day", "country", "currency", "channel", "settlement_currency", "purchases", "coins_sold",
      "gross_minor", "settlement_minor", "fee_minor", "chargebacks", "net_minor"],
    (rows) => {
      const days = [...new Set(rows.map((r) => r.day))];
      const cur = [...new Set(rows.map((r) => r.settlement_currency))];
      return { legend: { top: 0 }, xAxis: { type: "category", data: days }, yAxis: { type: "value" },
        series: cur.map((c) => ({ name: `net ${c} (minor units)`, type: "bar",
          data: days.map((d) => rows.filter((r) => r.day === d && r.settlement_currency === c)
            .reduce((a, r) => a + r.net_minor, 0)) })) };
    });
  const funnelRows = p.funnel.rows[0] && p.funnel.rows[0].created ? p.funnel.rows : [];
  panel(grid, "funnel", "Purchase funnel", { view: p.funnel.view, rows: funnelRows },
    ["created", "confirmed", "declined", "timed_out", "charged_back", "open"],
    (rows) => ({ series: [{ type: "funnel", sort: "none", data: ["created", "confirmed", "charged_back"]
      .map((k) => ({ name: k, value: rows[0][k] })) }] }));
  panel(grid, "commission", "Platform commission (coins)", p.commission,
    ["day", "source", "events", "coins", "commission_coins"], bars("day", ["commission_coins"]));
  panel(grid, "liabilities", "Payout liabilities (diamonds)", p.liabilities,
    ["creators", "diamonds_owed", "diamonds_available", "diamonds_held", "diamonds_pending", "diamonds_paid"],
    (rows) => bars("k", ["v"])(["diamonds_available", "diamonds_held", "diamonds_pending", "diamonds_paid"]
      .map((k) => ({ k, v: rows[0][k] }))));
  panel(grid, "open_payouts", "Open payouts by currency", p.open_payouts, ["currency", "payouts", "diamonds", "amount_minor"]);
  panel(grid, "top_creators", "Top creators (diamonds earned in range)", p.top_creators,
    ["creator_id", "credits", "coins", "diamonds_earned"], bars("creator_id", ["diamonds_earned"], true));
  const gpm = p.gifts_per_minute;
  panel(grid, "gifts_per_minute",
    `Gifts per minute during ${body.stream_id || "a stream"}${gpm.capped ? " (first day of minutes only)" : ""}`,
    gpm, ["minute", "gifts", "quantity", "coins"],
    giftsPerMinute, "No live gifts in this range.");
  missing(grid, body.missing);
}

async function opsView() {
  const body = await load("/v1/dashboard/ops");
  if (!body) return;
  clear("ops");
  app.append(el("h1", { text: "Operations" }), freshness(body.freshness));
  const grid = el("div", { class: "grid" });
  app.append(grid);
  const lag = body.panels.lag;
  lag.rows.forEach((r) => { r.where = `${r.topic}[${r.partition}]`; });
  panel(grid, "lag", "Consumer lag: projections, per partition", lag,
    ["consumer", "topic", "partition", "end_offset", "next_offset", "lag", "measured_at"],
    bars("where", ["lag"], true));
  // From each process's own /metrics (signals.py), read as the admin opens the view.
  const p = body.panels;
  p.group_lag.rows.forEach((r) => { r.where = `${r.group} ${r.topic}[${r.partition}]`; });
  panel(grid, "group_lag", "Consumer lag: the services' groups, per partition", p.group_lag,
    ["process", "group", "topic", "partition", "lag"], bars("where", ["lag"], true));
  panel(grid, "outbox", "Outbox depth and relay lag per service", p.outbox,
    ["service", "depth", "oldest_unsent_seconds", "published"], bars("service", ["depth"]));
  panel(grid, "red", "Requests, errors and latency per route (since each process started)", p.red,
    ["service", "route", "requests", "errors", "refusals", "mean_ms"],
    bars("route", ["requests", "errors", "refusals"], true));
  panel(grid, "dead_letters", "Dead letters by group and topic (since each process started)", p.dead_letters,
    ["process", "group", "topic", "dead_lettered"]);
  panel(grid, "processes", "Processes answering /metrics", p.processes, ["process", "answers"]);
  // Read from the dead-letter topic itself, kept across restarts (analytics.dead_letters).
  panel(grid, "dead_letter_reasons", "Dead letters by reason", p.dead_letter_reasons,
    ["consumer", "topic", "reason", "messages", "last_seen", "example"],
    (rows) => bars("k", ["messages"], true)(rows.map((r) => ({ k: `${r.consumer}: ${r.reason}`, messages: r.messages }))),
    "No dead letters.");
  const run = p.reconcile.run;
  panel(grid, "reconcile", run
    ? `Last reconcile: ${run.discrepancies ? `${run.discrepancies} discrepancies` : "OK"}, ${run.finished_at.replace("T", " ").slice(0, 19)} UTC`
    : "Last reconcile", p.reconcile, ["check", "examined", "found", "first"], null,
    "No reconcile run recorded yet (make reconcile).");
  if (run) grid.querySelector("[data-panel=reconcile]").dataset.discrepancies = run.discrepancies;
  missing(grid, body.missing);
}

function route() {
  if (!token()) { signin(); return; }
  const path = location.hash.replace(/^#\//, "").split("?")[0].split("/");
  const view = { creator: creatorView, analyst: analystView, ops: opsView }[path[0]];
  if (!view) {
    const roles = claims().roles || [];
    location.hash = roles.includes("creator") ? "#/creator" : roles.includes("analyst") ? "#/analyst"
      : roles.includes("admin") ? "#/ops" : "#/creator";
    return;
  }
  view(path).catch((e) => problemPage("problem", "Could not load the dashboard", String(e)));
}

document.getElementById("signout").addEventListener("click", () => { signin(); location.hash = ""; });
window.addEventListener("hashchange", route);
window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
route();
