// Dead letters: groups by fingerprint and the list (filterable, selectable). Every
// replay or delete first asks the server how many it would touch (dead_letters_count),
// says "This will replay N dead letters", and acts with that count's as_of, so what
// failed after the confirmation is left alone.

import { get, post } from "../api.js";
import { errorBanner, failed, fmt, h, notice, panel, replace, table, timeCell } from "../dom.js";

const FILTERS = ["type", "q", "from", "to"];

export function render(root, ctx) {
  const query = ctx.query();
  const filter = Object.fromEntries(FILTERS.filter((k) => query.get(k)).map((k) => [k, query.get(k)]));
  const selected = new Set();
  const message = h("div", { "aria-live": "polite" });
  const groups = h("div");
  const list = h("div");
  const form = h("form", { class: "filters live-pause", "aria-label": "Filter dead letters" },
    ...FILTERS.map((name) => h("div", { class: "field" },
      h("label", { for: `dl-${name}` }, { type: "Type", q: "Text", from: "Failed from", to: "Failed to" }[name]),
      h("input", { id: `dl-${name}`, name, type: name === "q" ? "search" : "text", value: filter[name] || "",
        placeholder: name === "from" || name === "to" ? "2026-01-01T00:00:00Z" : "any" }))),
    h("div", { class: "field buttons" }, h("button", { type: "submit" }, "Filter"),
      h("button", { type: "button", class: "quiet", onclick: () => ctx.navigate("#/dead-letters") }, "Clear")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    delete form.dataset.dirty;
    const params = new URLSearchParams();
    for (const name of FILTERS) if (form.elements[name].value.trim()) params.set(name, form.elements[name].value.trim());
    ctx.navigate(`#/dead-letters${params.toString() ? `?${params}` : ""}`);
  });
  const bulk = ctx.canWrite ? h("div", { class: "actions", "aria-label": "Bulk actions" },
    h("button", { type: "button", onclick: () => act("replay", { ids: [...selected] }, "the selected") }, "Replay selected"),
    h("button", { type: "button", class: "danger", onclick: () => act("delete", { ids: [...selected] }, "the selected") },
      "Delete selected"),
    h("button", { type: "button", onclick: () => act("replay", { filter }, "every matching") }, "Replay all matching"),
    h("button", { type: "button", class: "danger", onclick: () => act("delete", { filter }, "every matching") },
      "Delete all matching")) : null;
  const pager = h("div", { class: "pager" });
  const pages = [null]; // the `after` of each page seen; the last one is shown
  root.append(h("h1", {}, "Dead letters"), message, form, groups, panel("Dead letters", bulk, list, pager));

  async function act(verb, selector, what) {
    if (selector.ids && selector.ids.length === 0) {
      replace(message, notice("Select dead letters first (the checkboxes).", "warn"));
      return;
    }
    try {
      const { count, as_of: asOf } = await post("dead_letters_count", {}, { selector });
      if (!count) {
        replace(message, notice(`Nothing to ${verb}: no unreplayed dead letter matches.`, "warn"));
        return;
      }
      const ok = await ctx.confirm({ title: `${verb === "replay" ? "Replay" : "Delete"} dead letters?`,
        message: `This will ${verb} ${count} dead letter${count === 1 ? "" : "s"} (${what}, failed at or before ${fmt.time(asOf)}).`,
        action: `${verb === "replay" ? "Replay" : "Delete"} ${count}`, danger: verb === "delete" });
      if (!ok) return;
      const done = verb === "replay" ? "Replayed" : "Deleted";
      // A big selection is answered in parts (partial: true); the same body plus action_id goes on.
      let result = await post(`dead_letters_${verb}`, {}, { selector, as_of: asOf });
      while (result.partial) {
        replace(message, notice(`${done} ${result.affected} so far, ${result.remaining} to go…`));
        result = await post(`dead_letters_${verb}`, {}, { selector, as_of: asOf, action_id: result.action_id });
      }
      selected.clear();
      replace(message, notice(`${done} ${result.affected} dead letter${
        result.affected === 1 ? "" : "s"} (audit #${result.action_id}).`));
      await refresh();
    } catch (error) {
      replace(message, errorBanner(error, `${verb} failed`));
    }
  }

  async function refresh() {
    const [g, d] = await Promise.all([get("dead_letter_groups", { type: filter.type }).catch((e) => e),
      get("dead_letters", { ...filter, after: pages[pages.length - 1] ?? "" }).catch((e) => e)]);
    replace(groups, g instanceof Error ? failed("Groups", g) : panel("Groups", table([
      { label: "type", value: (r) => r.type },
      { label: "count", class: "num", value: (r) => fmt.num(r.count) },
      { label: "first seen", value: (r) => timeCell(r.first_seen) },
      { label: "last seen", value: (r) => timeCell(r.last_seen) },
      { label: "error", class: "error-text", value: (r) => r.sample_error || "" },
      ...(ctx.canWrite ? [{ label: "actions", value: (r) => h("span", { class: "row-actions" },
        h("button", { type: "button", "aria-label": `Replay group ${r.fingerprint}`,
          onclick: () => act("replay", { fingerprint: r.fingerprint, type: r.type }, "this group") }, "Replay group"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete group ${r.fingerprint}`,
          onclick: () => act("delete", { fingerprint: r.fingerprint, type: r.type }, "this group") }, "Delete group")) }]
        : []),
    ], g.groups, { label: "Dead-letter groups", emptyText: "No dead letters. Nothing has failed for good." })));
    if (d instanceof Error) { replace(list, failed("List", d)); return; }
    replace(list, table([
      ...(ctx.canWrite ? [{ label: "select", value: (r) => h("input", { type: "checkbox", checked: selected.has(r.id),
        disabled: Boolean(r.replayed_job_id), "aria-label": `Select dead letter ${r.id}`,
        onchange: (e) => (e.target.checked ? selected.add(r.id) : selected.delete(r.id)) }) }] : []),
      { label: "job", value: (r) => h("a", { href: `#/jobs/${r.job_id}`, class: "mono" }, fmt.short(r.job_id)) },
      { label: "type", value: (r) => r.type },
      { label: "attempts", class: "num", value: (r) => fmt.num(r.attempts) },
      { label: "failed", value: (r) => timeCell(r.failed_at) },
      { label: "error", class: "error-text", value: (r) => r.last_error || "" },
      { label: "replayed as", value: (r) => (r.replayed_job_id
        ? h("a", { href: `#/jobs/${r.replayed_job_id}`, class: "mono" }, fmt.short(r.replayed_job_id)) : "–") },
      ...(ctx.canWrite ? [{ label: "actions", value: (r) => (r.replayed_job_id ? "" : h("span", { class: "row-actions" },
        h("button", { type: "button", "aria-label": `Replay dead letter ${r.id}`,
          onclick: () => act("replay", { ids: [r.id] }, "this one") }, "Replay"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete dead letter ${r.id}`,
          onclick: () => act("delete", { ids: [r.id] }, "this one") }, "Delete"))) }] : []),
    ], d.dead_letters, { label: "Dead letters", emptyText: "No dead letters match." }));
    replace(pager,
      pages.length > 1 ? h("button", { type: "button", class: "quiet", onclick: () => { pages.pop(); refresh(); } },
        "Previous page") : null,
      h("span", { class: "muted" }, `page ${pages.length}`),
      d.next_after !== null && d.next_after !== undefined
        ? h("button", { type: "button", onclick: () => { pages.push(d.next_after); refresh(); } }, "Next page") : null);
  }
  return { refresh };
}
