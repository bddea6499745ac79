// The audit log (`GET /v1/audit`): the group's writes made with admin and partner keys, newest
// first, filtered by resource, key and time range (UTC), each record's details on request.

import { get } from "./api.js";
import { clearError, closeOnEscape, explain, h, pagedTable, replace, say, showError, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const STALE = Object.assign(new Error("a newer list"), { stale: true });
const PAGE = 50;

// The list asked for last is the one shown: an older answer (or one arriving after the
// operator left the section, or signed out) is dropped.
let listing = 0;
const current = (mine) => mine === listing && !$("audit").hidden && !$("app").hidden;

export function setupAudit() {
  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadAudit({ focus: true });
  });
}

// A `datetime-local` value (`YYYY-MM-DDTHH:MM`, read as UTC as every time of the console) as
// the API's ISO-8601 with an offset; `to` runs to the end of its minute (both ends included).
function instant(value, end) {
  if (!value) return undefined;
  const minute = /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(value);
  return minute ? `${value}:${end ? "59.999" : "00"}+00:00` : `${value}+00:00`;
}

function filters() {
  return {
    object: $("audit-object").value.trim(),
    key_id: $("audit-key").value.trim(),
    from: instant($("audit-from").value, false),
    to: instant($("audit-to").value, true),
  };
}

let detailsShown = 0; // ids for each record's details (aria-controls)

function detailsToggle(record) {
  const id = `audit-details-${++detailsShown}`;
  const ids = Object.entries(record.ids || {}).map(([name, value]) => `${name} ${value}`).join(", ");
  const text = [
    `Summary: ${record.summary || "—"}`,
    `Request: ${record.method} ${record.route}`,
    `Answer: HTTP ${record.status}`,
    `Ids: ${ids || "none"}`,
    `Key: ${record.key_id}`,
    `Request id: ${record.request_id}`,
  ].join("\n");
  const details = h("pre", { id, class: "audit-details", hidden: true }, text); // text, never markup
  const button = h("button", { type: "button", "aria-expanded": "false", "aria-controls": id }, "Details");
  const box = h("div", {}, button, details);
  button.addEventListener("click", () => {
    details.hidden = !details.hidden;
    button.setAttribute("aria-expanded", String(!details.hidden));
    // Escape on the open details (or their button) closes them, the focus on the button
    if (details.hidden) box.onkeydown = null;
    else {
      closeOnEscape(box, () => {
        button.click();
        button.focus();
      });
    }
  });
  return box;
}

export async function loadAudit({ focus = false } = {}) {
  const mine = ++listing;
  clearError();
  const view = $("audit-view");
  const query = filters();
  replace(view, h("p", { class: "muted" }, "Loading the audit log…"));
  try {
    await pagedTable(view, "Audit log (newest first)", [
      { label: "When", value: (r) => when(r.at) },
      { label: "Actor (key id)", value: (r) => r.key_id },
      { label: "Action", value: (r) => `${r.method} ${r.route}` },
      { label: "Answer", value: (r) => r.status, num: true },
      { label: "Resource", value: (r) => r.object },
      { label: "Details", value: (r) => detailsToggle(r) },
    ], "no record.", "audit records", async (cursor) => {
      const page = await get("/v1/audit", { ...query, limit: PAGE, cursor });
      if (!current(mine)) throw STALE;
      return { rows: page.items, next: page.next_cursor };
    });
    say(`${view.querySelectorAll("tbody tr").length} audit record(s) shown.`);
    if (focus) {
      const landing = view.querySelector("table") || view.firstElementChild; // the table, or the line saying there is none
      landing.setAttribute("tabindex", "-1");
      landing.focus();
    }
  } catch (error) {
    if (error.stale || !current(mine)) return;
    replace(view);
    showError("Audit log", explain(error, "read the audit log"));
  }
}

// Sign-out: the records shown are forgotten (the form is reset with the others).
export function forgetAudit() {
  listing++;
  replace($("audit-view"));
}
