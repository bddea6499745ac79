// A privacy request: download everything held about a customer or a card (the export), and
// erase its personal data (irreversible: the agent types the id to confirm). Used by the
// Customers section and, for a card, by the member view.

import { call, get, noFinalAnswer, segment } from "./api.js";
import { clearError, enable, h, replace, say, showError, when } from "./dom.js";

// The erasure's reason codes (docs/privacy.md, Erasure): the API refuses any other.
const REASONS = [
  ["subject_request", "the person asked (GDPR art. 17)"],
  ["retention_expired", "the retention period for inactive customers ended"],
  ["other", "anything else"],
];

// The saved exports' object URLs (personal data in memory): revoked when another replaces
// them and at sign-out.
const saved = new Set();

export function forgetPrivacy() {
  for (const url of saved) URL.revokeObjectURL(url);
  saved.clear();
}

// An error said in words for what the agent was doing to `subject` ("Customer c-1", "Card X").
export function privacyError(context, subject, error) {
  const words = {
    403: "This needs an admin key: the key signed in may not do it.",
    404: `${subject} was not found in this loyalty group.`,
  }[error.status];
  const conflict = {
    customer_erased: `${subject}'s personal data was erased: it cannot be saved or linked again (a returning person is a new customer id).`,
    export_too_large: `${subject}'s export is larger than 5 MB: the API refuses it rather than cut it.`,
  }[error.code];
  const message = conflict || words || error.message;
  showError(context, { message, code: error.code, status: error.status, details: error.details });
}

const fileSafe = (id) => String(id).replace(/[^A-Za-z0-9._-]/g, "_");

// The export button and the line saying where it was saved. `path` is the API's route, `kind`
// "customer" or "member", `current()` false once the agent moved on (the answer is dropped).
export function exportBlock({ kind, id, subject, path, current }) {
  const box = h("p", { class: "muted", id: `${kind}-export-result` });
  const button = h("button", { type: "button", id: `${kind}-export` }, `Export ${subject}'s data (JSON)`);
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    clearError();
    button.disabled = true;
    let data;
    try {
      data = await get(path);
    } catch (error) {
      if (!current()) return;
      enable(button);
      privacyError(`Export of ${subject}`, subject, error);
      return;
    }
    if (!current()) return;
    enable(button);
    const text = JSON.stringify(data, null, 2);
    const name = `${kind}-${fileSafe(id)}.export.json`;
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    saved.add(url);
    const link = h("a", { href: url, download: name, id: `${kind}-export-file` }, `Save ${name} again`);
    const kb = (new Blob([text]).size / 1024).toFixed(1);
    replace(box, `Saved ${name} (${kb} KB, exported ${when(data.exported_at)}). `, link);
    link.click();
    say(`Export of ${subject} saved as ${name}.`);
  });
  return h("div", { class: "privacy-export" }, button, box);
}

// The erasure form: a reason, the id typed again, and a button disabled while the request is
// on its way. The API takes no Idempotency-Key here: an erasure is idempotent by its subject
// (erasing again changes nothing and answers the first erasure's time), so a retry after a
// network failure is the same request again. `done(answer)` shows the erased subject.
export function erasureForm({ kind, id, subject, path, current, done }) {
  const idLabel = kind === "customer" ? "customer id" : "card code";
  const title = `${kind}-erase-title`;
  const form = h(
    "form",
    { id: `${kind}-erase-form`, class: "stack", "aria-labelledby": title },
    h("label", { for: `${kind}-erase-reason` }, kind === "customer" ? "Reason for the customer's erasure" : "Reason for the card's erasure"),
    h("select", { id: `${kind}-erase-reason`, required: true }, REASONS.map(([code, meaning]) => h("option", { value: code }, `${code}: ${meaning}`))),
    h("label", { for: `${kind}-erase-confirm` }, `Type the ${idLabel} to confirm`),
    h("input", { id: `${kind}-erase-confirm`, autocomplete: "off", spellcheck: "false", "aria-describedby": `${kind}-erase-help` }),
    h("span"),
    h("button", { type: "submit", class: "danger" }, kind === "customer" ? "Erase the customer's personal data" : "Erase the card's personal data"),
  );
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return; // a double click or Enter while the erasure is on its way
    clearError();
    const typed = document.getElementById(`${kind}-erase-confirm`).value.trim();
    if (typed !== id) {
      showError(`Erase ${subject}`, {
        message: `Type the ${idLabel} ${id} exactly to confirm: an erasure cannot be undone. Nothing was erased.`,
        code: "confirmation_required",
      });
      document.getElementById(`${kind}-erase-confirm`).focus();
      return;
    }
    const body = { reason_code: document.getElementById(`${kind}-erase-reason`).value };
    button.disabled = true;
    let answer;
    try {
      answer = await call("POST", path, { body });
    } catch (error) {
      if (!current()) return;
      enable(button);
      if (noFinalAnswer(error)) {
        error = { ...error, message: `${error.message}. It may or may not have been erased: erase again (an erasure already made changes nothing).` };
      }
      privacyError(`Erase ${subject}`, subject, error);
      return;
    }
    if (!current()) {
      // the agent moved on: say it was done, unless signed out (sign-out forgets the subject)
      if (!document.getElementById("app").hidden) say(`${subject}'s personal data was erased.`);
      return;
    }
    await done(answer);
    say(`${subject}'s personal data was erased (${when(answer.erased_at)}).`);
  });
  return h(
    "section",
    { "aria-labelledby": title, class: "erase" },
    h("h4", { id: title }, kind === "customer" ? "Erase the customer's personal data" : "Erase the card's personal data"),
    h("p", { id: `${kind}-erase-help` }, kind === "customer"
      ? `Irreversible: blanks ${subject}'s name, e-mail and phone, and the free text of every linked card and instrument. Balances, the ledger and the ids stay.`
      : `Irreversible: blanks ${subject}'s customer reference, adjustment comments and VIP reasons, and takes it out of the search. Balances and the ledger stay; its customer is erased from the Customers section.`),
    form,
  );
}

// The member view's privacy block: export the card, erase it (or say when it was). `reopen`
// reads the member again once erased, so the view says "Personal data: erased …".
export function memberPrivacy(member, { current, reopen }) {
  const card = member.card_code;
  const subject = `Card ${card}`;
  const path = `/v1/members/${segment(card)}`;
  return h(
    "section",
    { id: "member-privacy", "aria-labelledby": "member-privacy-title" },
    h("h4", { id: "member-privacy-title" }, "Privacy"),
    exportBlock({ kind: "member", id: card, subject, path: `${path}/export`, current }),
    member.erased_at
      ? h("p", { class: "notice" }, `The card's personal data was erased ${when(member.erased_at)}.`)
      : erasureForm({ kind: "member", id: card, subject, path: `${path}/erasure`, current, done: reopen }),
  );
}
