// Types: each job type's settings and load, pause/resume; circuit breakers and reset.

import { get, post } from "../api.js";
import { badge, errorBanner, failed, fmt, h, notice, panel, replace, table, timeCell } from "../dom.js";

export function render(root, ctx) {
  const message = h("div", { "aria-live": "polite" });
  const body = h("div");
  root.append(h("h1", {}, "Types"), message, body);

  async function act(action, params, text, confirmText) {
    if (confirmText && !(await ctx.confirm({ title: confirmText.title, message: confirmText.message,
      action: confirmText.action, danger: true }))) return;
    try {
      await post(action, params);
      replace(message, notice(text));
      await refresh();
    } catch (error) {
      replace(message, errorBanner(error, `${action} refused`));
    }
  }

  async function refresh() {
    let data;
    try { data = await get("types"); } catch (error) { replace(body, failed("Job types", error)); return; }
    replace(body,
      panel("Job types", table([
        { label: "type", value: (t) => h("a", { href: `#/jobs?type=${encodeURIComponent(t.name)}` }, t.name) },
        { label: "state", value: (t) => badge(t.enabled) },
        { label: "pending", class: "num", value: (t) => fmt.num(t.pending) },
        { label: "running", class: "num", value: (t) => fmt.num(t.running) },
        { label: "concurrency", class: "num", value: (t) => (t.concurrency_limit ?? "∞") },
        { label: "timeout", class: "num", value: (t) => fmt.age(t.timeout_seconds) },
        { label: "max attempts", class: "num", value: (t) => fmt.num(t.max_attempts) },
        { label: "backoff", class: "num", value: (t) => `${fmt.age(t.backoff_base_seconds)} → ${fmt.age(t.backoff_cap_seconds)}` },
        ...(ctx.canWrite ? [{ label: "actions", value: (t) => (t.enabled
          ? h("button", { type: "button", class: "danger", "aria-label": `Pause ${t.name}`,
            onclick: () => act("type_pause", { type: t.name }, `Paused ${t.name}: its jobs wait until it is resumed.`,
              { title: `Pause ${t.name}?`, message: `Workers stop claiming ${t.name} jobs until it is resumed. Running jobs finish.`,
                action: "Pause" }) }, "Pause")
          : h("button", { type: "button", "aria-label": `Resume ${t.name}`,
            onclick: () => act("type_resume", { type: t.name }, `Resumed ${t.name}.`) }, "Resume")) }] : []),
      ], data.types, { label: "Job types", emptyText: "No job types." })),
      panel("Circuit breakers", table([
        { label: "provider", value: (b) => b.provider },
        { label: "state", value: (b) => badge(b.state) },
        { label: "consecutive failures", class: "num", value: (b) => fmt.num(b.consecutive_failures) },
        { label: "open until", value: (b) => timeCell(b.open_until) },
        { label: "last error", class: "error-text", value: (b) => b.last_error || "" },
        ...(ctx.canWrite ? [{ label: "actions", value: (b) => h("button", { type: "button",
          "aria-label": `Reset breaker ${b.provider}`,
          onclick: () => act("breaker_reset", { provider: b.provider }, `Reset the ${b.provider} breaker.`,
            { title: `Reset ${b.provider}?`, message: `Close the ${b.provider} breaker: calls to it resume now.`,
              action: "Reset" }) }, "Reset") }] : []),
      ], data.breakers, { label: "Circuit breakers", emptyText: "No breakers: every provider is healthy." })));
  }
  return { refresh };
}
