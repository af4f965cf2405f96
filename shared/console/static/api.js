// The JSON actions, called with the bearer token kept in this tab's sessionStorage.
// The token never goes into a URL or a cookie. Failures become ApiError (status, the
// server's error code, message and hint, and `fields` for 422).

const TOKEN_KEY = "queue-worker.token";

// The function's root: the page is at <root>dashboard/, the actions at <root>?action=...
export const root = location.pathname.replace(/dashboard(\/.*)?$/, "");

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.code = body.error || (status ? `HTTP${status}` : "NetworkError");
    this.hint = body.hint || "";
    this.fields = Array.isArray(body.fields) ? body.fields : [];
    this.body = body;
  }
  get unavailable() { return this.status === 400 && this.code === "UnknownAction"; }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

export async function call(action, { method = "GET", params = {}, body } = {}) {
  const url = new URL(root, location.origin);
  url.searchParams.set("action", action);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  const headers = { Authorization: `Bearer ${token() || ""}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
  } catch (error) {
    throw new ApiError(0, { error: "NetworkError", message: `the function did not answer: ${error.message}` });
  }
  let data = {};
  try { data = await response.json(); } catch { data = {}; }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("qw:unauthorized", { detail: error }));
    if (response.status === 403 && error.code === "ReadOnly") window.dispatchEvent(new CustomEvent("qw:readonly"));
    throw error;
  }
  return data;
}

export const get = (action, params) => call(action, { params });
export const post = (action, params, body) => call(action, { method: "POST", params, body });
