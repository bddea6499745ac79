// Imports: the group's recent imports (newest first, "More" for older ones) and the imports of
// files watched by name, with progress and state refreshed while one runs; download their
// reports; upload a partner file through the presigned upload flow.

import { call, get, segment } from "./api.js";
import { clearError, definitions, enable, h, replace, say, showError, table, when } from "./dom.js";

const WATCHED_KEY = "loyalty-console-watched-files";
const REFRESH_MS = 2000;
const PAGE = 20;
const ACTIVE = new Set(["queued", "running"]);
let timer = null;
let refreshing = false;
let again = false;
// The recent imports shown: every page loaded so far, and the cursor of the next one.
let recent = { imports: [], cursor: null, pages: 0 };

const watched = () => JSON.parse(sessionStorage.getItem(WATCHED_KEY) || "[]");

// Uploads whose import has not shown yet, by file name: {before: the file's newest import id
// before the upload (null: none), at: when it was uploaded}. The import of an upload appears
// only when the importer has seen the file (deployed: 30 s after it, then its quiet period), so
// a file name with older imports is followed until an import newer than `before` shows.
const AWAITED_KEY = "loyalty-console-awaited-uploads";
const AWAIT_MS = 20 * 60 * 1000; // past the deployed delay (30 s) and longest quiet period (900 s)
const awaited = () => JSON.parse(sessionStorage.getItem(AWAITED_KEY) || "{}");

function setAwaited(name, value) {
  const all = awaited();
  if (value) all[name] = value;
  else delete all[name];
  sessionStorage.setItem(AWAITED_KEY, JSON.stringify(all));
}

export function watchFile(name) {
  const files = watched().filter((file) => file !== name);
  files.unshift(name);
  sessionStorage.setItem(WATCHED_KEY, JSON.stringify(files.slice(0, 10)));
}

export function setupImports(show) {
  document.getElementById("watch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = document.getElementById("import-file").value.trim();
    clearError();
    if (!name) {
      showError("Watch a file", { message: "Type the name of a partner file (spaces only is none).", code: "validation_error" });
      return;
    }
    watchFile(name);
    refreshImports();
  });
  document.getElementById("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("upload-file").files[0];
    const button = event.target.querySelector("button[type=submit]");
    if (!file || button.disabled) return; // a double click while the file goes up: one upload
    button.disabled = true;
    const sent = await upload(file).finally(() => enable(button));
    // the agent who moved on meanwhile stays where they are (the file is watched all the same)
    if (sent && !document.getElementById("upload").hidden) {
      const uploaded = document.getElementById("status").textContent;
      show("imports");
      say(uploaded); // the upload's line is about the section it moves to
    }
  });
}

export function stopImports() {
  clearTimeout(timer);
  timer = null;
}

// Sign-outs so far: an upload ending after one watches nothing and says nothing.
let session = 0;

export function forgetImports() {
  session++;
  reporting++;
  recent = { imports: [], cursor: null, pages: 0 };
}

// The first page again (new imports, progress), the older pages loaded by "More" kept as read.
async function readRecent() {
  const first = await get("/v1/imports", { limit: PAGE });
  if (recent.pages <= 1) {
    recent = { imports: first.imports, cursor: first.next_cursor, pages: 1 };
    return;
  }
  const fresh = new Set(first.imports.map((i) => i.import_id));
  const last = first.imports.at(-1);
  const older = recent.imports.filter((i) => !fresh.has(i.import_id) && last && listedAfter(i, last));
  recent = { ...recent, imports: [...first.imports, ...older] };
}

// Whether import a comes after b in the list: received earlier, or in the same (whole) second
// with a smaller id (the list's sort key is the received time, then the id, newest first).
function listedAfter(a, b) {
  const at = Date.parse(a.received_at);
  const bt = Date.parse(b.received_at);
  return at < bt || (at === bt && a.import_id < b.import_id);
}

async function moreRecent() {
  clearError();
  try {
    const next = await get("/v1/imports", { limit: PAGE, cursor: recent.cursor });
    const shown = new Set(recent.imports.map((i) => i.import_id));
    recent = {
      imports: [...recent.imports, ...next.imports.filter((i) => !shown.has(i.import_id))],
      cursor: next.next_cursor,
      pages: recent.pages + 1,
    };
    replace(document.getElementById("recent-imports"), recentBlock());
    say(`Page ${recent.pages} of recent imports read: ${recent.imports.length} imports shown.`);
  } catch (error) {
    showError("Older imports", error);
  }
}

function recentBlock() {
  const more = recent.cursor
    ? h("button", { type: "button", id: "more-imports", onclick: moreRecent }, "More imports")
    : null;
  return [importsTable("Recent imports", recent.imports, true, "no import yet (an upload shows here within seconds)."), more];
}

export async function refreshImports() {
  stopImports();
  if (refreshing) {
    again = true; // asked for during a refresh (a file just named): read once more after it
    return;
  }
  refreshing = true;
  again = false;
  const files = watched();
  const view = document.getElementById("imports-view");
  const note = document.getElementById("imports-refresh");
  let active = false;
  try {
    // The watched files first, then the recent imports: an import a file's list shows is then
    // in the recent list too (its pointer is written before the job).
    const blocks = [];
    for (const file of files) {
      try {
        const list = await get("/v1/imports", { file, limit: 20 });
        if (!list.imports.length || list.imports.some((i) => ACTIVE.has(i.state))) active = true;
        const upload = awaited()[file];
        const newest = list.imports.length ? list.imports[0].import_id : null;
        const waiting = upload && newest === upload.before && Date.now() - upload.at < AWAIT_MS;
        if (upload && !waiting) setAwaited(file, null);
        if (waiting) active = true;
        blocks.push(
          waiting ? h("p", { class: "muted" }, `${file}: waiting for the import of the upload of ${when(new Date(upload.at).toISOString())}…`) : null,
          importsTable(`Imports of ${file}`, list.imports),
        );
      } catch (error) {
        blocks.push(h("p", { class: "error" }, `${file}: ${error.message} (${error.code})`));
      }
    }
    try {
      await readRecent();
      if (recent.imports.some((i) => ACTIVE.has(i.state))) active = true;
      redraw(document.getElementById("recent-imports"), recentBlock());
    } catch (error) {
      redraw(document.getElementById("recent-imports"), h("p", { class: "error" }, `Recent imports: ${error.message} (${error.code})`));
    }
    redraw(view, files.length ? blocks : h("p", { class: "muted" }, "No file watched by name (name one above to follow its imports)."));
  } finally {
    refreshing = false;
  }
  const section = document.getElementById("imports");
  if (again && !section.hidden) {
    refreshImports();
    return;
  }
  if (active && !section.hidden) {
    note.textContent = `Refreshing every ${REFRESH_MS / 1000} s while an import is waiting or running (last ${clock()}).`;
    timer = setTimeout(refreshImports, REFRESH_MS);
  } else {
    note.textContent = `Up to date (${clock()}).`;
  }
}

// A box drawn again by a refresh, the focus kept: a button focused in it (a report's Download,
// More imports) was replaced by its copy every 2 s, the keyboard thrown back to the page's top.
function redraw(box, ...children) {
  const focused = document.activeElement;
  const had = focused && focused !== box && box.contains(focused) ? (focused.id || focused.textContent) : null;
  replace(box, ...children);
  if (had === null) return;
  const same = [...box.querySelectorAll("button, a")].find((node) => (node.id || node.textContent) === had);
  if (same) same.focus();
}

// The time of a refresh in UTC, as every other time of the console, to the second.
const clock = () => `${new Date().toISOString().slice(11, 19)} UTC`;

function progressOf(item) {
  const p = item.progress;
  const total = p.lines_total;
  const label = total ? `${p.lines_read} of ${total} lines` : `${p.lines_read} lines`;
  const bar = total
    ? h("progress", { max: total, value: p.lines_read, "aria-label": `${item.file_name}: ${label}` })
    : h("progress", { "aria-label": `${item.file_name}: ${label}` });
  return h("span", {}, ACTIVE.has(item.state) ? bar : null, ` ${label}`);
}

function importsTable(caption, imports, withFile = false, empty = "no import yet (a new upload shows here within seconds).") {
  const file = withFile ? [{ label: "File", value: (i) => i.file_name }] : [];
  return table(caption, [
    ...file,
    { label: "Import", value: (i) => i.import_id },
    { label: "State", value: (i) => h("span", { class: `state state-${i.state}` }, i.state) },
    { label: "Progress", value: progressOf },
    { label: "Applied", value: (i) => i.progress.applied, num: true },
    { label: "Skipped", value: (i) => i.progress.skipped, num: true },
    { label: "Received", value: (i) => when(i.received_at) },
    { label: "Finished", value: (i) => when(i.finished_at) },
    { label: "Problem", value: (i) => (i.rejection ? `${i.rejection.code}: ${i.rejection.message}` : i.duplicate_of ? `duplicate of ${i.duplicate_of}` : "") },
    {
      label: "Report",
      value: (i) => (i.report
        ? h("button", { type: "button", onclick: () => downloadReport(i) }, `Download report of ${i.import_id}`)
        : ""),
    },
  ], imports, empty);
}

// The report asked for last is the one shown (and saved): an earlier one's late answer, or one
// arriving after sign-out, is dropped.
let reporting = 0;

async function downloadReport(item) {
  clearError();
  const mine = ++reporting;
  const current = () => mine === reporting && !document.getElementById("app").hidden;
  const box = document.getElementById("report-view");
  try {
    const links = await get(`/v1/imports/${segment(item.import_id)}/report`);
    const answer = await fetch(links.summary_url);
    if (!answer.ok) throw Object.assign(new Error(`the report's link answered HTTP ${answer.status}`), { code: "report_unreadable" });
    const text = await answer.text();
    if (!current()) return;
    const name = `${item.file_name.replace(/\.csv$/i, "")}.${item.import_id}.report.json`;
    const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: name, id: "report-file" }, `Save ${name} again`);
    replace(
      box,
      h("h3", { id: "report-title", tabindex: "-1" }, `Report of ${item.import_id} (${item.file_name})`),
      h("p", {}, link, " · ", h("a", { href: links.skipped_url, rel: "noreferrer" }, "Skipped lines (CSV)"),
        h("span", { class: "muted" }, ` · links valid until ${when(links.expires_at)}`)),
      reportInWords(text),
    );
    link.click();
    say(`Report of ${item.import_id} downloaded.`);
  } catch (error) {
    if (current()) showError(`Report of ${item.import_id}`, error);
  }
}

// The report's fields in words (the file saved keeps the JSON as the engine wrote it); a report
// that is not JSON is shown as it is, as text.
function reportInWords(text) {
  let r;
  try {
    r = JSON.parse(text);
  } catch {
    return h("pre", { id: "report-summary" }, text);
  }
  if (!r || typeof r !== "object") return h("pre", { id: "report-summary" }, text);
  const rejection = r.rejection
    ? `${r.rejection.message} (${r.rejection.code}${r.rejection.line ? `, line ${r.rejection.line}` : ""})` : "none";
  return h("div", { id: "report-summary" }, definitions([
    ["State", String(r.state ?? "—").replaceAll("_", " ")],
    ["Scope", [r.scope, r.subsection].filter(Boolean).join(" / ") || "—"],
    ["Received", when(r.received_at)],
    ["Finished", when(r.finished_at)],
    ["Lines read", r.lines_read],
    ["Applied", r.applied],
    ["Skipped", r.skipped],
    ["Unchanged", r.unchanged],
    ["File refused", rejection],
    ...(r.duplicate_of ? [["Duplicate of", r.duplicate_of]] : []),
    ["Content SHA-256", r.content_sha256],
  ]));
}

async function upload(file) {
  clearError();
  const signedIn = session;
  try {
    const ticket = await call("POST", "/v1/imports/uploads", { body: { file_name: file.name, size: file.size } });
    const earlier = await get("/v1/imports", { file: file.name, limit: 1 });
    const headers = Object.fromEntries(
      Object.entries(ticket.headers || {}).filter(([name]) => !["content-length", "host"].includes(name.toLowerCase())),
    );
    let answer;
    try {
      answer = await fetch(ticket.url, { method: ticket.method || "PUT", headers, body: file });
    } catch (error) {
      throw Object.assign(new Error(`the bucket cannot be reached (${error.message})`), { code: "upload_failed" });
    }
    if (!answer.ok) throw Object.assign(new Error(`the bucket refused the file (HTTP ${answer.status})`), { code: "upload_refused" });
    if (signedIn !== session) return false; // signed out meanwhile: nothing kept for the next agent
    watchFile(file.name);
    setAwaited(file.name, { before: earlier.imports.length ? earlier.imports[0].import_id : null, at: Date.now() });
    document.getElementById("upload-form").reset();
    say(`Uploaded ${file.name}: its import shows under Imports.`);
    return true;
  } catch (error) {
    if (signedIn === session) showError(`Upload of ${file.name}`, error);
    return false;
  }
}
