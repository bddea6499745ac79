// The API client: the key is held in memory and in this tab's sessionStorage, never in a URL.

const STORAGE_KEY = "loyalty-console-api-key";
let apiKey = null;
let base = "";

export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// A write that got no final answer (no answer at all, or a 5xx), and, with `busy`, a 409
// `concurrent_update` too: it may have been done, so the same write is sent again under its
// Idempotency-Key.
export const noFinalAnswer = (error, { busy = false } = {}) =>
  error.status === 0 || error.status >= 500 || (busy && error.code === "concurrent_update");

export async function configure() {
  try {
    const answer = await fetch("config.json", { cache: "no-store" });
    const config = answer.ok ? await answer.json() : {};
    base = String(config.apiUrl || "").replace(/\/+$/, "");
  } catch {
    base = "";
  }
  apiKey = sessionStorage.getItem(STORAGE_KEY);
  return apiKey;
}

export function setKey(key) {
  apiKey = key || null;
  if (apiKey) sessionStorage.setItem(STORAGE_KEY, apiKey);
  else sessionStorage.removeItem(STORAGE_KEY);
}

export function keyGroup() {
  const parts = (apiKey || "").split(".");
  return parts.length === 4 && parts[0] === "lk" ? parts[1] : null;
}

// The id of the key signed in with (`lk.<group>.<key id>.<secret>`): the Keys page marks it.
export function keyId() {
  const parts = (apiKey || "").split(".");
  return parts.length === 4 && parts[0] === "lk" ? parts[2] : null;
}

// Told when the API refuses the key (401: revoked, expired, or not a key): the shell signs out.
let refused = () => {};
export function whenKeyRefused(callback) {
  refused = callback;
}

export async function call(method, path, { body, headers = {}, query = {} } = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== "") params.set(name, value);
  const url = base + path + (params.toString() ? `?${params}` : "");
  const init = { method, headers: { Authorization: `Bearer ${apiKey}`, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let answer;
  try {
    answer = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, "network_error", `The API cannot be reached (${error.message})`);
  }
  const text = await answer.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!answer.ok) {
    const code = (data && data.code) || `http_${answer.status}`;
    const message = (data && (data.message || data.Message)) || answer.statusText || "The request failed";
    const error = new ApiError(answer.status, code, message, (data && data.details) || []);
    if (answer.status === 401) refused(error);
    throw error;
  }
  return data;
}

export const get = (path, query) => call("GET", path, { query });

// Every program of the group (the Programs and Jobs sections list them all), at most 1,000.
export async function allPrograms() {
  const programs = [];
  let cursor = null;
  do {
    const page = await get("/v1/programs", { limit: 200, cursor });
    programs.push(...page.programs);
    cursor = page.next_cursor;
  } while (cursor && programs.length < 1000);
  return programs;
}

// Every row of a paged list (`field` of each page), 200 a page, from `from` (a cursor; null: the
// start) until `cap` rows are read: {rows, more, next} (`more`: the list goes on, from the
// cursor `next`; a page is kept whole, so no row is skipped). The member page's pickers read them.
export async function everyPage(path, field, cap, from = null) {
  const rows = [];
  let cursor = from;
  do {
    const page = await get(path, { limit: 200, cursor });
    rows.push(...page[field]);
    cursor = page.next_cursor;
  } while (cursor && rows.length < cap);
  return { rows, more: Boolean(cursor), next: cursor || null };
}

export function segment(value) {
  return encodeURIComponent(String(value).trim());
}

