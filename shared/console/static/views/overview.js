// Overview: counts per type, throughput and backlog charts, health checks, recent runs.
// Built from ?action=overview, ?action=health and ?action=stats; a missing action only
// blanks its own panel ("not available yet").

import { get } from "../api.js";
import { legend, lineChart } from "../charts.js";
import { badge, failed, fmt, h, panel, replace, table, timeCell } from "../dom.js";

const THROUGHPUT = [{ name: "completed", key: "completed", class: "s-completed" },
  { name: "failed", key: "failed", class: "s-failed" }];
const BACKLOG = [{ name: "ready", key: "ready", class: "s-ready" }];

async function settle(promise) {
  try { return { value: await promise }; } catch (error) { return { error }; }
}

export function render(root) {
  const heading = h("h1", {}, "Overview");
  const totals = h("div", { class: "tiles", "aria-label": "Totals" });
  const counts = h("div");
  const charts = h("div");
  const health = h("div");
  const runs = h("div");
  const audit = h("div");
  root.append(heading, totals, counts, charts, h("div", { class: "grid-2" }, health, h("div", {}, runs, audit)));

  async function refresh() {
    const [over, stats, checks, actions] = await Promise.all([settle(get("overview")), settle(get("stats")),
      settle(get("health")), settle(get("audit", { limit: 10 }))]);
    replace(totals, ...tiles(over.value, stats.value));
    replace(counts, countsPanel(over, stats));
    replace(charts, over.error ? failed("Throughput and backlog", over.error) : chartsPanel(over.value));
    replace(health, checks.error ? failed("Health", checks.error) : healthPanel(checks.value));
    replace(runs, over.error ? failed("Recent invocations", over.error) : runsPanel(over.value));
    replace(audit, actions.error ? failed("Console actions", actions.error) : auditPanel(actions.value));
  }
  return { refresh };
}

function tile(label, value, cls = "") {
  return h("div", { class: `tile ${cls}` }, h("div", { class: "tile-value num" }, value),
    h("div", { class: "tile-label" }, label));
}

function tiles(over, stats) {
  const by = (stats && stats.by_status) || {};
  const types = (over && over.types) || [];
  const oldest = types.length ? Math.max(...types.map((t) => t.oldest_ready_age_seconds || 0))
    : stats && stats.oldest_pending_age_seconds;
  return [
    tile("pending", fmt.num(by.pending || 0), "t-pending"),
    tile("running", fmt.num(by.running || 0), "t-running"),
    tile("completed", fmt.num(by.completed || 0), "t-completed"),
    tile("completed last hour", fmt.num(stats ? stats.completed_last_1h : null)),
    tile("failed last hour", fmt.num(stats ? stats.failed_last_1h : null), "t-failed"),
    tile("dead letters last hour", fmt.num(over ? over.dead_letters_1h : null), "t-failed"),
    tile("dead letters", fmt.num(stats ? stats.dead_letter_count : null)),
    tile("oldest ready", fmt.age(oldest)),
    tile("run time p50", fmt.ms(stats ? stats.run_time_p50_ms : null)),
    tile("run time p95", fmt.ms(stats ? stats.run_time_p95_ms : null)),
  ];
}

function countsPanel(over, stats) {
  const title = "Counts by type";
  if (over.value) {
    return panel(title, table([
      { label: "type", value: (t) => h("a", { href: `#/jobs?type=${encodeURIComponent(t.type)}` }, t.type) },
      { label: "state", value: (t) => badge(t.enabled) },
      ...["pending", "ready", "scheduled", "running", "completed_1h", "failed_1h", "dead_lettered_1h", "dead_letters"]
        .map((key) => ({ label: key.replace("_1h", " 1h").replace("_", " "), class: "num", value: (t) => fmt.num(t[key]) })),
      { label: "oldest ready", class: "num", value: (t) => fmt.age(t.oldest_ready_age_seconds) },
      { label: "p50", class: "num", value: (t) => fmt.ms(t.run_ms_p50) },
      { label: "p95", class: "num", value: (t) => fmt.ms(t.run_ms_p95) },
    ], over.value.types, { label: title, emptyText: "No job types yet." }));
  }
  if (!stats.value) return failed(title, stats.error);
  // Without ?action=overview: the same counts from queue_stats (by type and status).
  const rows = Object.entries(stats.value.by_type || {}).map(([type, statuses]) => ({ type, ...statuses }));
  rows.sort((a, b) => a.type.localeCompare(b.type));
  return panel(title, table([
    { label: "type", value: (t) => h("a", { href: `#/jobs?type=${encodeURIComponent(t.type)}` }, t.type) },
    ...["pending", "running", "completed", "cancelled"].map((key) => ({ label: key, class: "num",
      value: (t) => fmt.num(t[key] || 0) })),
  ], rows, { label: title, emptyText: "No jobs yet: enqueue one from the Enqueue view." }));
}

function chartsPanel(over) {
  const series = over.series || {};
  const chart = (title, points, kinds) => h("figure", { class: "chart-box" },
    h("figcaption", {}, title), lineChart({ title, points: points || [], series: kinds }), legend(kinds));
  return panel("Throughput and backlog", h("div", { class: "charts" },
    chart("Completed / failed per minute, last hour", series.minute, THROUGHPUT),
    chart("Ready backlog, last hour", series.minute, BACKLOG),
    chart("Completed / failed per 15 min, last day", series.quarter_hour, THROUGHPUT),
    chart("Ready backlog, last day", series.quarter_hour, BACKLOG)));
}

// Failing checks first, worst first, each with its value against its threshold and its hint;
// the passing ones folded away, as they are most of the list.
const RANK = { critical: 0, warning: 1, ok: 2 };

function healthPanel(report) {
  const checks = Object.entries(report.checks || {});
  const failing = checks.filter(([, c]) => !c.ok)
    .sort(([a, x], [b, y]) => (RANK[x.severity] ?? 1) - (RANK[y.severity] ?? 1) || a.localeCompare(b));
  const passing = checks.filter(([, c]) => c.ok);
  const skipped = report.not_checked || [];
  return panel("Health", h("p", {}, "Status: ", badge(report.status), " ", badge(report.severity || "–")),
    failing.length ? checkList("Failing health checks", failing)
      : h("p", { class: "empty" }, "Every check passes."),
    passing.length ? h("details", {}, h("summary", {}, `${passing.length} checks ok`),
      checkList("Passing health checks", passing)) : "",
    skipped.length ? h("p", { class: "muted" }, "Not checked: ",
      skipped.map((s) => `${s.check} (${s.reason})`).join("; ")) : "");
}

function checkList(label, checks) {
  return h("ul", { class: "checks", "aria-label": label }, checks.map(([name, check]) =>
    h("li", { class: check.ok ? "ok" : `bad ${check.severity || ""}` },
      h("span", { class: "check-mark", "aria-hidden": "true" }, check.ok ? "✓" : check.severity === "warning" ? "!" : "✗"),
      h("strong", {}, name), " ", badge(check.severity || (check.ok ? "ok" : "failing")),
      h("span", { class: "check-detail" }, describe(check)),
      !check.ok && check.hint ? h("span", { class: "check-detail check-hint" }, check.hint) : "")));
}

// A check's facts in one line: value against threshold when it has one, else its scalars;
// lists and objects by their size.
function describe(check) {
  if ("threshold" in check) {
    const value = check.value === null || check.value === undefined ? "none" : check.value;
    return `${value} of at most ${check.threshold} ${check.unit || ""} (critical above ${check.critical_above})`;
  }
  return Object.entries(check).filter(([key]) => !["ok", "severity", "hint"].includes(key)).map(([key, value]) => {
    if (Array.isArray(value)) return value.length ? `${key}: ${value.map(brief).join(", ")}` : `${key}: none`;
    if (value && typeof value === "object") return `${key}: ${Object.keys(value).length} entries`;
    return `${key}: ${value}`;
  }).join(" · ");
}

const brief = (value) => (value && typeof value === "object" ? JSON.stringify(value).slice(0, 60) : String(value));

function auditPanel(data) {
  return panel("Console actions", table([
    { label: "at", value: (a) => timeCell(a.at) },
    { label: "by", value: (a) => a.actor },
    { label: "action", value: (a) => h("code", {}, a.action) },
    { label: "target", value: (a) => h("code", {}, JSON.stringify(a.target ?? {}).slice(0, 80)) },
    { label: "affected", class: "num", value: (a) => fmt.num(a.affected) },
  ], data.actions, { label: "Console actions", emptyText: "No console actions yet." }));
}

function runsPanel(over) {
  const stale = over.stale_claims || [];
  return h("div", {},
    panel("Recent invocations", table([
      { label: "worker", value: (r) => h("code", {}, fmt.short(r.worker_id)) },
      { label: "started", value: (r) => timeCell(r.started_at) },
      { label: "duration", class: "num", value: (r) => fmt.ms(r.duration_ms) },
      ...["claimed", "completed", "retried", "dead_lettered"].map((key) => ({ label: key.replace("_", " "),
        class: "num", value: (r) => fmt.num(r[key]) })),
    ], over.recent_runs, { label: "Recent invocations", emptyText: "No invocations yet." })),
    panel("Stale claims", table([
      { label: "job", value: (j) => h("a", { href: `#/jobs/${j.id}` }, fmt.short(j.id)) },
      { label: "type", value: (j) => j.type },
      { label: "locked by", value: (j) => h("code", {}, fmt.short(j.locked_by)) },
      { label: "lock expired", value: (j) => timeCell(j.locked_until) },
    ], stale, { label: "Stale claims", emptyText: "No stale claims: every running job has a live lock." })));
}
