// Schedules: cron-driven jobs, next and last run, enable/disable.

import { get, post } from "../api.js";
import { badge, errorBanner, failed, fmt, h, notice, panel, replace, table, timeCell } from "../dom.js";

export function render(root, ctx) {
  const message = h("div", { "aria-live": "polite" });
  const body = h("div");
  root.append(h("h1", {}, "Schedules"), message, body);

  async function toggle(schedule) {
    const action = schedule.enabled ? "schedule_disable" : "schedule_enable";
    try {
      const result = await post(action, { name: schedule.name });
      replace(message, notice(`${schedule.name} is now ${result.enabled ? "enabled" : "disabled"}.`));
      await refresh();
    } catch (error) {
      replace(message, errorBanner(error, `${action} refused`));
    }
  }

  async function refresh() {
    let data;
    try { data = await get("schedules"); } catch (error) { replace(body, failed("Schedules", error)); return; }
    replace(body, panel("Schedules", table([
      { label: "name", value: (s) => s.name },
      { label: "cron", value: (s) => h("code", {}, s.cron) },
      { label: "type", value: (s) => s.type },
      { label: "state", value: (s) => badge(s.enabled ? "enabled" : "disabled") },
      { label: "next run", value: (s) => timeCell(s.next_run_at) },
      { label: "last run", value: (s) => timeCell(s.last_run_at) },
      { label: "last job", value: (s) => (s.last_job_id
        ? h("a", { href: `#/jobs/${s.last_job_id}`, class: "mono" }, fmt.short(s.last_job_id)) : "–") },
      { label: "payload", value: (s) => h("code", {}, JSON.stringify(s.payload ?? {})) },
      ...(ctx.canWrite ? [{ label: "actions", value: (s) => h("button", { type: "button",
        "aria-label": `${s.enabled ? "Disable" : "Enable"} ${s.name}`, onclick: () => toggle(s) },
      s.enabled ? "Disable" : "Enable") }] : []),
    ], data.schedules, { label: "Schedules", emptyText: "No schedules." })));
  }
  return { refresh };
}
