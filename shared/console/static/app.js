// The console: sign-in, the role, hash routing and the live refresh loop.
// Each view module exports `render(root, ctx, params)`, which builds the view and returns
// `{refresh}` (optional), called every REFRESH_MS while the view is shown and nothing
// is being edited or confirmed.

import { ApiError, clearToken, get, setToken, token } from "./api.js";
import { errorBanner, replace } from "./dom.js";
import * as overview from "./views/overview.js";
import * as jobs from "./views/jobs.js";
import * as job from "./views/job.js";
import * as deadLetters from "./views/dead_letters.js";
import * as types from "./views/types.js";
import * as schedules from "./views/schedules.js";
import * as enqueue from "./views/enqueue.js";

const REFRESH_MS = 3000;
const ROUTES = [
  [/^#\/overview$/, overview, "overview"],
  [/^#\/jobs\/([0-9a-f-]{36})$/i, job, "jobs"],
  [/^#\/jobs(?:\?.*)?$/, jobs, "jobs"],
  [/^#\/dead-letters(?:\?.*)?$/, deadLetters, "dead-letters"],
  [/^#\/types$/, types, "types"],
  [/^#\/schedules$/, schedules, "schedules"],
  [/^#\/enqueue$/, enqueue, "enqueue"],
];

const $ = (id) => document.getElementById(id);
const state = { role: null, current: null, generation: 0, timer: null, dialogs: 0 };

// What views get: the role, a confirm dialog, and a way to report errors in the banner.
const ctx = {
  get role() { return state.role; },
  get canWrite() { return state.role === "admin"; },
  confirm,
  banner(error, what) { replace($("banner"), error ? errorBanner(error, what) : null); },
  query() { return new URLSearchParams(location.hash.split("?")[1] || ""); },
  navigate(hash) { if (location.hash === hash) route(); else location.hash = hash; },
};

function confirm({ title, message, action = "Confirm", danger = true }) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-message").textContent = message;
  const ok = $("confirm-ok");
  ok.textContent = action;
  ok.className = danger ? "danger" : "";
  state.dialogs += 1;
  dialog.showModal();
  return new Promise((resolve) => {
    const done = (answer) => {
      ok.removeEventListener("click", yes);
      $("confirm-cancel").removeEventListener("click", no);
      dialog.removeEventListener("cancel", no);
      dialog.close();
      state.dialogs -= 1;
      resolve(answer);
    };
    const yes = () => done(true);
    const no = (event) => { event.preventDefault(); done(false); };
    ok.addEventListener("click", yes);
    $("confirm-cancel").addEventListener("click", no);
    dialog.addEventListener("cancel", no);
  });
}

// Refresh stops while a dialog is open or a form has unsent edits (data-dirty).
function paused() {
  return state.dialogs > 0 || document.querySelector("form[data-dirty]") !== null;
}

function showSignIn(message) {
  state.role = null;
  clearInterval(state.timer);
  $("nav").hidden = true;
  $("session").hidden = true;
  replace($("view"));
  replace($("banner"));
  $("sign-in").hidden = false;
  const error = $("sign-in-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("token").value = "";
  $("token").focus();
}

async function signIn(value) {
  setToken(value);
  try {
    const who = await get("whoami");
    state.role = who.role;
  } catch (error) {
    clearToken();
    const text = error.status === 401
      ? "That token was not accepted (wrong credentials). Check it and try again."
      : `Could not sign in: ${error.message}${error.hint ? ` (${error.hint})` : ""}`;
    showSignIn(text);
    return;
  }
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("session").hidden = false;
  showRole();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/overview";
  else route();
}

function showRole() {
  const role = $("role");
  role.textContent = state.role === "admin" ? "admin" : "read-only";
  role.className = `role-badge role-${state.role}`;
  document.body.classList.toggle("readonly", state.role !== "admin");
}

async function route() {
  if (!state.role) return;
  clearInterval(state.timer);
  const generation = ++state.generation;
  const hash = location.hash || "#/overview";
  const found = ROUTES.map(([pattern, view, nav]) => [hash.match(pattern), view, nav]).find(([m]) => m);
  for (const link of document.querySelectorAll("#nav a")) {
    if (found && link.dataset.view === found[2]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace($("banner"));
  const view = replace($("view"));
  if (!found) {
    view.append(errorBanner(new ApiError(404, { error: "NotFound", message: `no view ${hash}` })));
    return;
  }
  const [match, module] = found;
  const shown = module.render(view, ctx, match.slice(1)) || {};
  state.current = shown;
  if (!shown.refresh) { live(""); return; }
  const tick = async () => {
    if (generation !== state.generation || paused()) { live(paused() ? "paused" : ""); return; }
    try {
      await shown.refresh();
      live(`updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      ctx.banner(error, "refresh failed");
    }
  };
  await tick();
  if (generation === state.generation) state.timer = setInterval(tick, REFRESH_MS);
}

function live(text) { $("live").textContent = text; }

window.addEventListener("hashchange", route);
window.addEventListener("qw:unauthorized", () => {
  if (state.role) { clearToken(); showSignIn("The token is no longer accepted (wrong credentials). Sign in again."); }
});
window.addEventListener("qw:readonly", () => {
  if (state.role === "readonly") return; // the server is authoritative: this token only reads
  state.role = "readonly";
  showRole();
  route();
});

function start() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (!value) { showSignIn("Enter a token."); return; }
    signIn(value);
  });
  $("sign-out").addEventListener("click", () => { clearToken(); showSignIn(""); });
  // A form with unsent edits pauses the refresh until it is sent or reset.
  document.addEventListener("input", (event) => {
    const form = event.target.closest && event.target.closest("form.live-pause");
    if (form) form.dataset.dirty = "1";
  });
  const saved = token();
  if (saved) signIn(saved); else showSignIn("");
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
