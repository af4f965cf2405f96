// Small DOM helpers: elements are built with textContent (never innerHTML from data),
// formatters with tabular output, banners and panels every view shares.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const numberFormat = new Intl.NumberFormat("en-US");

export const fmt = {
  num: (n) => (n === null || n === undefined ? "–" : numberFormat.format(Math.round(Number(n) * 100) / 100)),
  ms: (ms) => (ms === null || ms === undefined ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`),
  age: (seconds) => {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(Number(seconds));
    if (s < 90) return `${s} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
    return `${Math.round(s / 86400)} d`;
  },
  time: (iso) => {
    if (!iso) return "–";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  },
  ago: (iso) => {
    if (!iso) return "–";
    const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    return seconds >= 0 ? `${fmt.age(seconds)} ago` : `in ${fmt.age(-seconds)}`;
  },
  short: (id) => (id ? String(id).slice(0, 8) : "–"),
  json: (value) => JSON.stringify(value, null, 2),
};

export const timeCell = (iso) => h("time", { datetime: iso || "", title: fmt.time(iso) }, fmt.ago(iso));

export function badge(status) {
  const value = status === true ? "enabled" : status === false ? "paused" : String(status ?? "–");
  return h("span", { class: `badge status-${value.replace(/[^a-z_]/gi, "").toLowerCase()}` }, value);
}

// The server's refusal as a person reads it: what happened, the message, what to do.
export function errorBanner(error, what = "") {
  return h("div", { class: "banner error", role: "alert" },
    h("strong", {}, what ? `${what}: ` : "", error.code ? `${error.code}` : "Error"),
    " ", h("span", { class: "message" }, error.message || String(error)),
    error.hint ? h("div", { class: "hint" }, "Hint: ", error.hint) : null);
}

export function notice(text, kind = "ok") {
  return h("div", { class: `banner ${kind}`, role: "status" }, text);
}

// A panel whose action the server does not offer (yet): the view keeps working around it.
export function unavailable(title, error) {
  return h("section", { class: "panel unavailable", "aria-label": title },
    h("h2", {}, title), h("p", {}, `not available yet: ${error.message}`));
}

// A panel's content from a failed call: "not available yet" for an unknown action, else the banner.
export function failed(title, error) {
  return error.unavailable ? unavailable(title, error) : h("section", { class: "panel", "aria-label": title },
    h("h2", {}, title), errorBanner(error));
}

export function panel(title, ...children) {
  return h("section", { class: "panel", "aria-label": title }, h("h2", {}, title), ...children);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

// columns: [{label, value(row) -> node|string, class?}]
export function table(columns, rows, { label = "", emptyText = "Nothing here.", rowClass } = {}) {
  if (!rows || rows.length === 0) return empty(emptyText);
  return h("div", { class: "table-wrap" }, h("table", { "aria-label": label || null },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    h("tbody", {}, rows.map((row) => h("tr", { class: rowClass ? rowClass(row) : null },
      columns.map((c) => h("td", { class: c.class }, c.value(row))))))));
}

export function jsonBlock(value, label) {
  return h("pre", { class: "json", "aria-label": label, tabindex: "0" },
    value === undefined || value === null ? "null" : fmt.json(value));
}

export function definitionList(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}
