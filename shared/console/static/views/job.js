// One job: its facts, payload, result, progress, attempts and errors, the status
// timeline, dependencies both ways, and (admin) cancel / retry.

import { get, post } from "../api.js";
import { badge, definitionList, errorBanner, failed, fmt, h, jsonBlock, notice, panel, replace, table,
  timeCell } from "../dom.js";

export function render(root, ctx, [id]) {
  const body = h("div");
  const message = h("div", { "aria-live": "polite" });
  root.append(h("p", {}, h("a", { href: "#/jobs" }, "← Jobs")), h("h1", {}, "Job ", h("code", {}, id)), message, body);

  async function act(action, verb, job) {
    const question = action === "job_cancel"
      ? `Cancel ${job.type} job ${id} (${job.status})? Jobs that depend on it are cancelled too.`
      : `Run ${job.type} job ${id} (${job.status}) again now.`;
    const ok = await ctx.confirm({ title: `${verb} this job?`, message: question, action: `${verb} job`,
      danger: action === "job_cancel" });
    if (!ok) return;
    try {
      const result = await post(action, { id });
      replace(message, notice(action === "job_cancel" ? "Cancelled." : result.dead_letter_id
        ? `Replayed as a new job: ${result.id}` : `Retrying now (run at ${fmt.time(result.run_at)}).`));
      if (result.dead_letter_id && result.id !== id) ctx.navigate(`#/jobs/${result.id}`);
      else await refresh();
    } catch (error) {
      replace(message, errorBanner(error, `${verb} refused`));
    }
  }

  async function refresh() {
    let data;
    try {
      data = await get("job", { id });
    } catch (error) {
      replace(body, error.status === 404 ? errorBanner(error, "No such job") : failed("Job", error));
      return;
    }
    const job = data.job;
    const actions = ctx.canWrite ? h("div", { class: "actions" },
      ["pending", "running"].includes(job.status)
        ? h("button", { type: "button", class: "danger", onclick: () => act("job_cancel", "Cancel", job) }, "Cancel job")
        : null,
      job.status === "pending" || data.dead_letter
        ? h("button", { type: "button", onclick: () => act("job_retry", "Retry", job) }, "Retry now") : null) : null;
    replace(body,
      h("div", { class: "grid-2" },
        panel("Summary", definitionList([
          ["status", badge(job.status)], ["type", job.type], ["priority", job.priority],
          ["attempts", `${job.attempts} of ${job.max_attempts}`], ["owner", job.owner_id || "–"],
          ["created", timeCell(job.created_at)], ["run at", timeCell(job.run_at)],
          ["started", timeCell(job.started_at)], ["finished", timeCell(job.finished_at)],
          ["locked by", job.locked_by ? `${job.locked_by} until ${fmt.time(job.locked_until)}` : "–"], ["progress", progress(job.progress, job.progress_message)],
        ]), actions),
        panel("Dependencies",
          h("h3", {}, "Depends on"), links(data.depends_on, "No dependencies."),
          h("h3", {}, "Dependents"), links(data.dependents, "Nothing waits for this job."),
          data.dead_letter ? [h("h3", {}, "Dead letter"), deadLetter(data.dead_letter)] : null)),
      h("div", { class: "grid-2" },
        panel("Payload", jsonBlock(job.payload, "Payload")),
        panel("Result", jsonBlock(job.result, "Result"))),
      panel("Errors", errors(job)),
      panel("Status timeline", table([
        { label: "at", value: (e) => h("time", { datetime: e.at }, fmt.time(e.at)) },
        { label: "from", value: (e) => (e.from_status ? badge(e.from_status) : "–") },
        { label: "to", value: (e) => badge(e.to_status) },
        { label: "by", value: (e) => (e.worker_id || e.claimed_by || e.actor ? h("code", {},
          fmt.short(e.worker_id || e.claimed_by || e.actor)) : "") },
        { label: "note", value: (e) => e.note || e.error || "" },
      ], data.history, { label: "Status timeline", emptyText: "No history." })));
  }
  return { refresh };
}

// progress is a percentage (0-100) the processor reports, with an optional message.
function progress(value, message) {
  if (value === null || value === undefined) return "–";
  return h("span", {}, h("progress", { max: "100", value: String(value), "aria-label": "Progress" }),
    ` ${value}%`, message ? ` · ${message}` : "");
}

function links(jobs, emptyText) {
  if (!jobs || jobs.length === 0) return h("p", { class: "empty" }, emptyText);
  return h("ul", { class: "links" }, jobs.map((j) => h("li", {},
    h("a", { href: `#/jobs/${j.id}`, class: "mono" }, fmt.short(j.id)), " ", j.type, " ", badge(j.status))));
}

function errors(job) {
  const list = Array.isArray(job.errors) ? job.errors : [];
  if (list.length === 0 && !job.last_error) return h("p", { class: "empty" }, "No errors.");
  if (list.length === 0) return h("pre", { class: "error-text" }, job.last_error);
  return h("ol", { class: "errors" }, list.map((e) => h("li", {},
    typeof e === "string" ? e : [e.at ? h("time", { datetime: e.at }, fmt.time(e.at), " ") : null,
      e.attempt !== undefined ? `attempt ${e.attempt}: ` : "", h("span", { class: "error-text" },
        e.error || e.message || JSON.stringify(e))])));
}

function deadLetter(letter) {
  return definitionList([
    ["dead letter", h("code", {}, letter.id)],
    ["failed", timeCell(letter.failed_at)],
    ["last error", h("span", { class: "error-text" }, letter.last_error || "–")],
    ["replayed as", letter.replayed_job_id
      ? h("a", { href: `#/jobs/${letter.replayed_job_id}`, class: "mono" }, fmt.short(letter.replayed_job_id)) : "not yet"],
  ]);
}
