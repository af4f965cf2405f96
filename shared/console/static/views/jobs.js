// Jobs: a filter form (kept in the URL: #/jobs?type=email&status=pending) and a page
// of jobs, newest first, with a keyset "Next page" from next_after.

import { get } from "../api.js";
import { badge, failed, fmt, h, replace, table, timeCell } from "../dom.js";

const STATUSES = ["", "pending", "ready", "scheduled", "running", "completed", "cancelled"];
const PRIORITIES = ["", "critical", "high", "normal", "low"];
const FILTERS = ["type", "status", "priority", "owner", "from", "to", "q"];

function field(label, name, control) {
  control.name = name;
  control.id = `jobs-${name}`;
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

const select = (options) => h("select", {}, options.map((o) => h("option", { value: o }, o || "any")));

export function render(root, ctx) {
  const query = ctx.query();
  const form = h("form", { class: "filters live-pause", "aria-label": "Filter jobs" },
    field("Type", "type", h("input", { type: "text", placeholder: "any", list: "job-types" })),
    field("Status", "status", select(STATUSES)),
    field("Priority", "priority", select(PRIORITIES)),
    field("Owner", "owner", h("input", { type: "text", placeholder: "owner uuid" })),
    field("From", "from", h("input", { type: "datetime-local", step: "1" })),
    field("To", "to", h("input", { type: "datetime-local", step: "1" })),
    field("Text", "q", h("input", { type: "search", placeholder: "id, error, payload…" })),
    h("div", { class: "field buttons" }, h("button", { type: "submit" }, "Filter"),
      h("button", { type: "button", class: "quiet", onclick: () => ctx.navigate("#/jobs") }, "Clear")));
  for (const name of FILTERS) if (query.get(name)) form.elements[name].value = fromIso(name, query.get(name));
  const list = h("div", { "aria-live": "polite" });
  const pager = h("div", { class: "pager" });
  root.append(h("h1", {}, "Jobs"), form, list, pager);

  const pages = [null]; // the `after` of each page seen; the last one is shown
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    delete form.dataset.dirty;
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, toIso(name, value));
    }
    ctx.navigate(`#/jobs${params.toString() ? `?${params}` : ""}`);
  });

  async function refresh() {
    const params = Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""]));
    let data;
    try {
      data = await get("jobs", { ...params, after: pages[pages.length - 1] ?? "" });
    } catch (error) {
      replace(list, failed("Jobs", error));
      replace(pager);
      return;
    }
    replace(list, table(COLUMNS, data.jobs, { label: "Jobs", emptyText: "No jobs match these filters." }));
    replace(pager,
      pages.length > 1 ? h("button", { type: "button", class: "quiet", onclick: () => { pages.pop(); refresh(); } },
        "Previous page") : null,
      h("span", { class: "muted" }, `page ${pages.length}`),
      data.next_after !== null && data.next_after !== undefined
        ? h("button", { type: "button", onclick: () => { pages.push(data.next_after); refresh(); } }, "Next page")
        : null);
  }
  return { refresh };
}

const COLUMNS = [
  { label: "job", value: (j) => h("a", { href: `#/jobs/${j.id}`, class: "mono" }, fmt.short(j.id)) },
  { label: "type", value: (j) => j.type },
  { label: "status", value: (j) => badge(j.status) },
  { label: "priority", value: (j) => j.priority },
  { label: "attempts", class: "num", value: (j) => `${j.attempts}/${j.max_attempts}` },
  { label: "progress", class: "num", value: (j) => (j.progress === null || j.progress === undefined ? "–"
    : `${j.progress}%`) },
  { label: "created", value: (j) => timeCell(j.created_at) },
  { label: "run at", value: (j) => timeCell(j.run_at) },
  { label: "finished", value: (j) => timeCell(j.finished_at) },
  { label: "last error", class: "error-text", value: (j) => j.last_error || "" },
];

// datetime-local values are local time; the URL and the server get ISO 8601 UTC.
function toIso(name, value) {
  if (name !== "from" && name !== "to") return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function fromIso(name, value) {
  if (name !== "from" && name !== "to") return value;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 19);
}
