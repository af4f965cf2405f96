// Enqueue: a form per job type from ?action=job_schemas (the payload model's JSON
// schema beside a payload box), sent to ?action=enqueue; a 422 shows each field's
// message next to the field it names.

import { get, post } from "../api.js";
import { badge, errorBanner, failed, h, jsonBlock, notice, replace, table } from "../dom.js";

const PRIORITIES = ["normal", "critical", "high", "low"];

export function render(root, ctx) {
  const body = h("div");
  root.append(h("h1", {}, "Enqueue"), body);
  load(body, ctx);
  return {};
}

async function load(body, ctx) {
  let data;
  try { data = await get("job_schemas"); } catch (error) { replace(body, failed("Job types", error)); return; }
  if (data.types.length === 0) { replace(body, h("p", { class: "empty" }, "No job types are registered.")); return; }
  const chosen = h("div");
  const picker = h("select", { id: "enqueue-type", onchange: () => show(picker.value) },
    data.types.map((t) => h("option", { value: t.type }, t.type)));
  const show = (name) => replace(chosen, form(data.types.find((t) => t.type === name), ctx));
  replace(body, h("div", { class: "field inline" }, h("label", { for: "enqueue-type" }, "Job type"), picker),
    ctx.canWrite ? null : notice("Read-only token: you can read the schemas; enqueueing needs the worker secret.", "warn"),
    chosen);
  show(data.types[0].type);
}

function fieldErrors(id) {
  return h("ul", { id, class: "field-errors", "aria-live": "polite" });
}

function form(type, ctx) {
  const prefix = `enqueue-${type.type}`;
  const errors = { payload: fieldErrors(`${prefix}-payload-errors`), priority: fieldErrors(`${prefix}-priority-errors`),
    run_at: fieldErrors(`${prefix}-run_at-errors`), other: fieldErrors(`${prefix}-other-errors`) };
  const payload = h("textarea", { id: `${prefix}-payload`, name: "payload", rows: "10", spellcheck: "false",
    "aria-describedby": errors.payload.id, class: "code" }, example(type.schema));
  const priority = h("select", { id: `${prefix}-priority`, name: "priority", "aria-describedby": errors.priority.id },
    PRIORITIES.map((p) => h("option", { value: p }, p)));
  const runAt = h("input", { id: `${prefix}-run_at`, name: "run_at", type: "text", placeholder: "now, or +5m, +2h, +1d, 2026-12-01T09:00:00Z",
    "aria-describedby": errors.run_at.id });
  const result = h("div", { "aria-live": "polite" });
  const el = h("form", { class: "panel enqueue live-pause", "aria-label": `Enqueue ${type.type}` },
    h("h2", {}, type.type, " ", badge(type.enabled)),
    type.enabled ? null : notice(`${type.type} is paused (or has no job_types row): its jobs wait until it is resumed.`, "warn"),
    h("div", { class: "grid-2" },
      h("div", {},
        h("div", { class: "field" }, h("label", { for: payload.id }, "Payload (JSON)"), payload, errors.payload),
        h("div", { class: "field" }, h("label", { for: priority.id }, "Priority"), priority, errors.priority),
        h("div", { class: "field" }, h("label", { for: runAt.id }, "Run at"), runAt, errors.run_at),
        errors.other,
        ctx.canWrite ? h("button", { type: "submit" }, `Enqueue ${type.type}`) : null,
        result),
      h("div", {}, h("h3", {}, "Payload fields"), schemaFields(type.schema),
        h("details", { class: "schema" }, h("summary", {}, "Payload schema (JSON Schema)"),
          jsonBlock(type.schema, "Payload schema")))));
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const list of Object.values(errors)) replace(list);
    replace(result);
    let parsed;
    try { parsed = JSON.parse(payload.value || "{}"); } catch (error) {
      errors.payload.append(h("li", {}, `not JSON: ${error.message}`));
      return;
    }
    const job = { type: type.type, payload: parsed, priority: priority.value };
    if (runAt.value.trim()) job.run_at = runAt.value.trim();
    try {
      const created = await post("enqueue", {}, job);
      delete el.dataset.dirty;
      replace(result, notice(["Enqueued job ", h("a", { href: `#/jobs/${created.id}`, class: "mono" }, created.id)]));
    } catch (error) {
      if (error.status === 422 && error.fields.length) showFields(error.fields, errors);
      else replace(result, errorBanner(error, "enqueue refused"));
    }
  });
  return el;
}

function showFields(fields, errors) {
  for (const { field, message } of fields) {
    const top = field.split(".")[0];
    const list = errors[top] || errors.other;
    list.append(h("li", {}, h("code", {}, field), " ", message));
  }
}

// A starting payload: the required properties with placeholder values of their type.
function example(schema) {
  const value = {};
  for (const name of schema.required || []) {
    const prop = (schema.properties || {})[name] || {};
    const kind = prop.type || (prop.anyOf && prop.anyOf[0] && prop.anyOf[0].type);
    value[name] = prop.default ?? prop.examples?.[0] ?? { string: "", integer: 0, number: 0, boolean: false,
      array: [], object: {} }[kind] ?? null;
  }
  return JSON.stringify(value, null, 2);
}

// The schema's top-level properties as a table: name, type, required, default, description.
function schemaFields(schema) {
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([name, prop]) => ({ name, prop }));
  return h("div", { class: "schema-fields" }, table([
    { label: "field", value: (r) => r.name },
    { label: "type", value: (r) => typeName(r.prop) },
    { label: "required", value: (r) => (required.has(r.name) ? h("span", { class: "required" }, "required") : "") },
    { label: "default", value: (r) => ("default" in r.prop ? h("code", {}, JSON.stringify(r.prop.default)) : "") },
    { label: "description", value: (r) => r.prop.description || "" },
  ], rows, { label: "Payload fields", emptyText: "This type takes no payload fields." }));
}

function typeName(prop) {
  if (prop.enum) return prop.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (prop.anyOf) return prop.anyOf.map(typeName).join(" | ");
  if (prop.$ref) return prop.$ref.split("/").pop();
  if (prop.type === "array" && prop.items) return `${typeName(prop.items)}[]`;
  return prop.format ? `${prop.type} (${prop.format})` : prop.type || "any";
}
