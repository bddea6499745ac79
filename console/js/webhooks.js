// Webhooks: the group's subscriptions (never a secret: the API shows none on a read, and only
// the fields below are shown), a subscription's delivery log, and redelivery of an event.

import { call, get, noFinalAnswer, segment } from "./api.js";
import { clearError, closeOnEscape, definitions, enable, explain, focusBack, h, pagedTable, replace, say, showError, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const words = (code) => String(code ?? "").replaceAll("_", " ");
const STALE = Object.assign(new Error("a newer view"), { stale: true });

// The list read last and the webhook opened last are the ones shown: an older answer (or one
// arriving after the operator left the section, or signed out) is dropped.
let listing = 0;
let opening = 0;
const current = (mine, latest) => mine === latest && !$("webhooks").hidden && !$("app").hidden;

// The Idempotency-Key of a redelivery that got no answer (network failure, 5xx, or 409
// concurrent_update: the first request may still be queuing it), per webhook and
// event: the same redelivery asked again is a retry of that request, queued once. An answer drops it.
const unanswered = new Map();
let session = 0; // sign-outs so far: a redelivery failing after one keeps no key for the next agent

const events = (kinds) => (kinds.includes("*") ? "all events" : kinds.join(", "));
const hookState = (w) => (!w.enabled ? "paused" : w.status === "failing" ? `failing since ${when(w.failing_since)}` : w.status);

export async function loadWebhooks() {
  const mine = ++listing;
  opening++; // a webhook opened before is not shown under a list read again
  const list = $("webhooks-list");
  replace($("deliveries-view"));
  replace(list, h("p", { class: "muted" }, "Loading the webhooks…"));
  try {
    await pagedTable(list, "Webhooks", [
      {
        label: "URL",
        value: (w) => h("button", { type: "button", "aria-label": `Open ${w.url}`, onclick: (event) => openWebhook(w, event.currentTarget) }, w.url),
      },
      { label: "Events", value: (w) => events(w.kinds) },
      { label: "State", value: (w) => hookState(w) },
      { label: "Description", value: (w) => w.description || "" },
      { label: "Created", value: (w) => when(w.created_at) },
    ], "no webhook yet.", "webhooks", async (cursor) => {
      const page = await get("/v1/webhooks", { limit: 50, cursor });
      if (!current(mine, listing)) throw STALE;
      return { rows: page.webhooks, next: page.next_cursor };
    });
    say(`${list.querySelectorAll("tbody tr").length} webhook(s).`);
  } catch (error) {
    if (error.stale || !current(mine, listing)) return;
    replace(list);
    showError("Webhooks", explain(error, "read the webhooks"));
  }
}

async function openWebhook(hook, opener) {
  const mine = ++opening;
  clearError();
  const view = $("deliveries-view");
  const title = `Deliveries to ${hook.url}`;
  replace(
    view,
    h("h3", { id: "webhook-title", tabindex: "-1" }, title),
    definitions([
      ["Webhook", hook.subscription_id],
      ["URL", hook.url],
      ["Events", events(hook.kinds)],
      ["State", hookState(hook)],
      ["Description", hook.description || "none"],
      ["Created", when(hook.created_at)],
      ["Updated", when(hook.updated_at)],
    ]),
    h("div", { id: "deliveries" }, h("p", { class: "muted" }, "Loading the deliveries…")),
  );
  $("webhook-title").focus();
  // Escape in the webhook's view closes it, the focus back on its URL in the list
  closeOnEscape(view, () => {
    opening++;
    replace(view);
    say("");
    focusBack(opener, "webhooks-title");
  });
  const box = $("deliveries");
  try {
    await pagedTable(box, "Deliveries (newest first)", [
      { label: "When", value: (a) => when(a.at) },
      { label: "Event", value: (a) => a.event_id },
      { label: "Type", value: (a) => a.kind },
      { label: "State", value: (a) => attemptState(a) },
      { label: "Attempt", value: (a) => (a.redelivery ? `${a.attempt} (redelivery)` : a.attempt), num: true },
      { label: "Status or error", value: (a) => outcome(a) },
      { label: "Latency", value: (a) => `${a.latency_ms} ms`, num: true },
      { label: "Answer", value: (a) => a.excerpt || "" },
      { label: "Next attempt", value: (a) => (a.next_attempt_at ? when(a.next_attempt_at) : "—") },
      { label: "Redeliver", value: (a) => (a.succeeded ? "" : redeliverButton(hook, a)) },
    ], "no delivery yet (attempts are kept 30 days).", "deliveries", async (cursor) => {
      const page = await get(`/v1/webhooks/${segment(hook.subscription_id)}/deliveries`, { limit: 50, cursor });
      if (!current(mine, opening)) throw STALE;
      return { rows: page.deliveries, next: page.next_cursor };
    });
    say(`${box.querySelectorAll("tbody tr").length} delivery attempt(s) of ${hook.url}.`);
  } catch (error) {
    if (error.stale || !current(mine, opening)) return;
    replace(box);
    showError(title, explain(error, "read a webhook's deliveries"));
  }
}

// Delivered; failed and tried again at `next_attempt_at`; or given up (past its 24 hours: the
// dead-letter queue), which a redelivery sends again with fresh retries.
function attemptState(a) {
  if (a.succeeded) return "delivered";
  return a.next_attempt_at ? "failed, retrying" : "failed, given up";
}

function outcome(a) {
  const status = a.status_code !== null && a.status_code !== undefined ? `HTTP ${a.status_code}` : "no answer";
  return a.error && a.error !== "status_code" ? `${status}: ${words(a.error)}` : status;
}

function redeliverButton(hook, attempt) {
  const button = h("button", { type: "button", "aria-label": `Redeliver event ${attempt.event_id}` }, "Redeliver");
  button.addEventListener("click", () => redeliver(button, hook, attempt.event_id));
  return button;
}

async function redeliver(button, hook, eventId) {
  if (button.disabled) return; // a double click while the first request is on its way
  clearError();
  const mine = opening;
  const signedIn = session;
  const id = `${hook.subscription_id} ${eventId}`;
  const key = unanswered.get(id) || crypto.randomUUID();
  button.disabled = true;
  let done;
  try {
    done = await call(
      "POST",
      `/v1/webhooks/${segment(hook.subscription_id)}/deliveries/${segment(eventId)}/redeliveries`,
      { headers: { "Idempotency-Key": key } },
    );
    if (signedIn === session) unanswered.delete(id);
  } catch (error) {
    if (signedIn !== session) return; // signed out meanwhile: its key is forgotten
    // no answer yet to this redelivery: a network failure, a 5xx, or 409 concurrent_update (the
    // first request may still be queuing it: "retry in a minute", under the same key)
    if (noFinalAnswer(error, { busy: true })) unanswered.set(id, key);
    else unanswered.delete(id);
    enable(button);
    if (current(mine, opening)) showError(`Redeliver ${eventId}`, explain(error, "redeliver an event"));
    return;
  }
  enable(button);
  if (!current(mine, opening)) return;
  say(done.queued
    ? `Event ${eventId} queued for redelivery to ${hook.url}.`
    : `Event ${eventId} was already queued for redelivery by this request: nothing more is sent.`);
}

// Sign-out: every view and every key of an unanswered redelivery are forgotten.
export function forgetWebhooks() {
  session++;
  listing++;
  opening++;
  unanswered.clear();
  replace($("webhooks-list"));
  replace($("deliveries-view"));
}
