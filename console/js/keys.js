// API keys: the group's keys (never a secret in the list), create a key, rotate one with a
// grace period, revoke one (the admin types its id). A new secret is shown once, in its own box,
// and is forgotten when the agent leaves the section or signs out: it never goes to
// sessionStorage, a URL, a file name or the status line.

import { call, get, keyId, noFinalAnswer, segment } from "./api.js";
import { clearError, closeOnEscape, enable, explain, h, pagedTable, replace, say, showError, when } from "./dom.js";

const $ = (id) => document.getElementById(id);
const STALE = Object.assign(new Error("a newer list"), { stale: true });
const MAX_GRACE_S = 604800; // the API's bound (7 days)

// The list read last is the one shown, and an answer arriving after the agent left the section
// or signed out is dropped; `session` counts sign-outs (a late answer keeps no key for the next agent).
let listing = 0;
let acting = 0;
let session = 0;
const current = (mine, latest) => mine === latest && !$("keys").hidden && !$("app").hidden;
let signOut = () => {};

// The Idempotency-Key of a create or rotation that got no answer (network failure, 5xx): the
// same request sent again is a retry of it (the API then answers the key, without its secret).
const unanswered = new Map();

export function setupKeys(onOwnKeyRevoked) {
  signOut = onOwnKeyRevoked;
  $("create-key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    createKey();
  });
}

// A 403 is a key without the admin scope; the API's conflicts in words; the rest as it says.
function explainKey(error, what) {
  const words = {
    grace_required_for_own_key: "This is this session's key: a rotation with no grace period would end the secret the console is signed in with at once. Give a grace period above 0 seconds (nothing was changed).",
    own_key: "This is this session's key, and a key cannot revoke itself: revoke it with another admin key or loyalty-admin revoke-key (nothing was changed).",
    key_revoked: "The key is revoked: a revoked key cannot be rotated.",
    key_expired: "The key has expired: an expired key cannot be rotated.",
    api_key_not_found: "There is no such key in this loyalty group.",
    unknown_merchant: "There is no such merchant in this loyalty group.",
    expires_in_past: "The expiry must be in the future.",
  }[error.code];
  return words ? { ...error, message: words } : explain(error, what);
}

function keyState(k) {
  if (k.status === "revoked") return `revoked ${when(k.revoked_at)}`;
  if (k.status === "expired") return "expired";
  return k.previous_secret_valid_until ? `rotating until ${when(k.previous_secret_valid_until)}` : k.status;
}

const mine = (k) => k.key_id === keyId();

// When the key was last accepted (the API's mark, up to 10 minutes behind); while a rotation's
// grace runs, when its old secret was last accepted since the rotation.
function lastUsed(k) {
  const used = k.last_used_at ? when(k.last_used_at) : "never";
  if (!k.previous_secret_valid_until) return used;
  const old = k.previous_secret_last_used_at ? `old secret used ${when(k.previous_secret_last_used_at)}` : "old secret not used since";
  return `${used} (${old})`;
}

export async function loadKeys({ keepSecret = false } = {}) {
  const mineNow = ++listing;
  const list = $("keys-list");
  if (!keepSecret) forgetSecret();
  replace(list, h("p", { class: "muted" }, "Loading the keys…"));
  try {
    await pagedTable(list, "API keys (in key id order)", [
      { label: "Key id", value: (k) => (mine(k) ? h("span", {}, k.key_id, h("strong", {}, " (this session's key)")) : k.key_id) },
      { label: "Name", value: (k) => k.name },
      { label: "Scopes", value: (k) => k.scopes.join(", ") },
      { label: "Merchant", value: (k) => k.merchant_id || "—" },
      { label: "State", value: (k) => keyState(k) },
      { label: "Created", value: (k) => when(k.created_at) },
      { label: "Expires", value: (k) => (k.expires_at ? when(k.expires_at) : "never") },
      { label: "Last rotated", value: (k) => when(k.rotated_at) },
      { label: "Last used", value: (k) => lastUsed(k) },
      { label: "Actions", value: (k) => actions(k) },
    ], "no key.", "keys", async (cursor) => {
      const page = await get("/v1/api-keys", { limit: 50, cursor });
      if (!current(mineNow, listing)) throw STALE;
      return { rows: page.keys, next: page.next_cursor };
    });
    say(`${list.querySelectorAll("tbody tr").length} key(s) shown.`);
  } catch (error) {
    if (error.stale || !current(mineNow, listing)) return;
    replace(list);
    showError("API keys", explainKey(error, "manage the API keys"));
  }
}

function actions(k) {
  if (k.status !== "active") return "";
  return h(
    "span",
    { class: "inline" },
    h("button", { type: "button", "aria-label": `Rotate key ${k.key_id}`, onclick: () => rotateForm(k) }, "Rotate"),
    " ",
    h("button", { type: "button", class: "danger", "aria-label": `Revoke key ${k.key_id}`, onclick: () => revokeForm(k) }, "Revoke"),
  );
}

// The new secret, once: a box with a Copy button; nothing else keeps it.
// The keyboard's way back once a panel or the secret goes (its button gone with it): the button
// that opened it, not the top of the page.
const rowButton = (action, k) => () => $("keys-list").querySelector(`button[aria-label="${action} key ${CSS.escape(k.key_id)}"]`);
const back = (target) => (target() || $("keys-title")).focus();

function showSecret(title, token, from = () => $("create-key-form").querySelector("button[type=submit]")) {
  const box = $("keys-secret");
  const value = h("code", { id: "new-secret" }, token);
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(token);
      say("The secret was copied to the clipboard.");
    } catch {
      getSelection().selectAllChildren(value); // no clipboard: selected, for Ctrl+C
      say("The secret is selected: copy it with Ctrl+C.");
    }
  });
  replace(
    box,
    h("h3", { id: "secret-title", tabindex: "-1" }, title),
    h("p", { class: "notice" }, h("strong", {}, "Copy it now: it will not be shown again. "), "Only its hash is kept; leaving this section or signing out clears it."),
    h("p", {}, value, " ", copy),
    h("button", { type: "button", onclick: () => { forgetSecret(); back(from); } }, "I have copied it: hide it"),
  );
  box.hidden = false;
  $("secret-title").focus();
}

function forgetSecret() {
  const box = $("keys-secret");
  if (box) {
    replace(box);
    box.hidden = true;
  }
}

// Leaving the section: the secret shown and an open rotation or revocation go.
export function leaveKeys() {
  acting++;
  forgetSecret();
  replace($("key-action"));
}

// Sign-out: every view, the form and the keys of unanswered requests are forgotten.
export function forgetKeys() {
  session++;
  listing++;
  leaveKeys();
  unanswered.clear();
  replace($("keys-list"));
}

async function send(id, fingerprint, method, path, body) {
  const previous = unanswered.get(id);
  const key = previous && previous.fingerprint === fingerprint ? previous.key : crypto.randomUUID();
  const signedIn = session;
  try {
    const done = await call(method, path, { body, headers: { "Idempotency-Key": key } });
    if (signedIn === session) unanswered.delete(id);
    return done;
  } catch (error) {
    if (signedIn === session) {
      if (noFinalAnswer(error)) unanswered.set(id, { fingerprint, key });
      else unanswered.delete(id);
    }
    throw error;
  }
}

async function createKey() {
  const button = $("create-key-form").querySelector("button[type=submit]");
  if (button.disabled) return; // a double click while the first request is on its way
  clearError();
  const name = $("key-name").value.trim();
  const scopes = [...document.querySelectorAll("#create-key-form input[name=key-scope]:checked")].map((c) => c.value);
  const merchant = $("key-merchant").value.trim();
  const expires = $("key-expires").value;
  if (!name || !scopes.length) {
    showError("Create a key", { message: "Give the key a name and at least one scope. Nothing was created.", code: "validation_error" });
    $(name ? "key-scope-admin" : "key-name").focus();
    return;
  }
  const body = { name, scopes };
  if (merchant) body.merchant_id = merchant;
  if (expires) body.expires_at = `${expires}${/T\d\d:\d\d$/.test(expires) ? ":00" : ""}+00:00`; // typed in UTC
  const mineNow = ++acting;
  const signedIn = session;
  button.disabled = true;
  let done;
  try {
    done = await send("create", JSON.stringify(body), "POST", "/v1/api-keys", body);
  } catch (error) {
    enable(button);
    if (signedIn !== session || !current(mineNow, acting)) return;
    showError("Create a key", explainKey(error, "create a key"));
    return;
  }
  enable(button);
  if (signedIn !== session || !current(mineNow, acting)) return;
  $("create-key-form").reset();
  await loadKeys();
  if (!current(mineNow, acting)) return;
  if (done.api_key) {
    showSecret(`New key ${done.key_id} (${done.name}): its secret`, done.api_key);
    say(`Key ${done.key_id} created: copy its secret now.`);
  } else {
    say(`Key ${done.key_id} was created by the earlier request whose answer was lost; its secret was in that answer and is not kept: rotate the key to get one.`);
  }
}

// A rotation's or revocation's form; Escape in it is its Cancel.
function panel(title, ...children) {
  const box = $("key-action");
  replace(box, h("h3", { id: "key-action-title", tabindex: "-1" }, title), ...children);
  closeOnEscape(box, () => [...box.querySelectorAll("button")].find((b) => b.textContent === "Cancel")?.click());
  $("key-action-title").focus();
}

function rotateForm(k) {
  clearError();
  forgetSecret();
  const own = mine(k);
  const form = h(
    "form",
    { id: "rotate-form" },
    h("label", { for: "rotate-grace" }, `Grace period (seconds, 0 to ${MAX_GRACE_S})`),
    h("input", { id: "rotate-grace", type: "number", min: 0, max: MAX_GRACE_S, step: 1, value: own ? 3600 : 0, required: true, "aria-describedby": "rotate-help" }),
    h("button", { type: "submit" }, "Rotate key"),
    h("button", { type: "button", onclick: () => { leaveKeys(); back(rowButton("Rotate", k)); } }, "Cancel"),
  );
  panel(
    `Rotate key ${k.key_id} (${k.name})`,
    h("p", { id: "rotate-help", class: "muted" }, own
      ? "This is this session's key: its current secret keeps working for the grace period (above 0), then the console signs out; sign in again with the new secret."
      : "The key gets a new secret; the one it has keeps working for the grace period, then is refused."),
    form,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    rotate(form, k);
  });
}

async function rotate(form, k) {
  const button = form.querySelector("button[type=submit]");
  if (button.disabled) return;
  clearError();
  const raw = $("rotate-grace").value.trim();
  const grace = Number(raw);
  if (!/^\d+$/.test(raw) || grace > MAX_GRACE_S) {
    showError(`Rotate key ${k.key_id}`, { message: `The grace period is a whole number of seconds from 0 to ${MAX_GRACE_S}. Nothing was rotated.`, code: "validation_error" });
    $("rotate-grace").focus();
    return;
  }
  const mineNow = ++acting;
  const signedIn = session;
  button.disabled = true;
  let done;
  try {
    const body = { grace_seconds: grace };
    done = await send(`rotate ${k.key_id}`, JSON.stringify(body), "POST", `/v1/api-keys/${segment(k.key_id)}/rotations`, body);
  } catch (error) {
    enable(button);
    if (signedIn !== session || !current(mineNow, acting)) return;
    showError(`Rotate key ${k.key_id}`, explainKey(error, "rotate a key"));
    return;
  }
  if (signedIn !== session || !current(mineNow, acting)) return;
  replace($("key-action"));
  await loadKeys();
  if (!current(mineNow, acting)) return;
  const until = done.previous_secret_valid_until ? `the secret before works until ${when(done.previous_secret_valid_until)}` : "the secret before no longer works";
  if (done.api_key) {
    showSecret(`Key ${done.key_id} rotated: its new secret`, done.api_key, rowButton("Rotate", k));
    say(`Key ${done.key_id} rotated (${until}): copy its new secret now.`);
  } else {
    say(`Key ${done.key_id} was rotated by the earlier request whose answer was lost; its new secret was in that answer: rotate it again to get one.`);
  }
}

function revokeForm(k) {
  clearError();
  forgetSecret();
  const own = mine(k);
  const form = h(
    "form",
    { id: "revoke-form" },
    h("label", { for: "revoke-confirm" }, "Type the key id to confirm"),
    h("input", { id: "revoke-confirm", autocomplete: "off", spellcheck: "false", "aria-describedby": "revoke-help" }),
    h("button", { type: "submit", class: "danger" }, "Revoke key"),
    h("button", { type: "button", onclick: () => { leaveKeys(); back(rowButton("Revoke", k)); } }, "Cancel"),
  );
  panel(
    `Revoke key ${k.key_id} (${k.name})`,
    h("p", { id: "revoke-help", class: "notice" }, own
      ? "This is this session's key: revoking it signs the console out (every call with it is then refused). The API lets no key revoke itself: use another admin key."
      : "A revoked key is refused from then on (within a minute: the authorizer's cache); this cannot be undone."),
    form,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    revoke(form, k, own);
  });
}

async function revoke(form, k, own) {
  const button = form.querySelector("button[type=submit]");
  if (button.disabled) return;
  clearError();
  if ($("revoke-confirm").value.trim() !== k.key_id) {
    showError(`Revoke key ${k.key_id}`, { message: `Type the key id ${k.key_id} exactly to confirm. Nothing was revoked.`, code: "confirmation_required" });
    $("revoke-confirm").focus();
    return;
  }
  const mineNow = ++acting;
  const signedIn = session;
  button.disabled = true;
  try {
    await call("DELETE", `/v1/api-keys/${segment(k.key_id)}`);
  } catch (error) {
    enable(button);
    if (signedIn !== session || !current(mineNow, acting)) return;
    showError(`Revoke key ${k.key_id}`, explainKey(error, "revoke a key"));
    return;
  }
  if (signedIn !== session) return;
  if (own) {
    signOut("The key this session was signed in with was revoked: sign in with another admin key.");
    return;
  }
  if (!current(mineNow, acting)) return;
  replace($("key-action"));
  await loadKeys();
  if (current(mineNow, acting)) say(`Key ${k.key_id} revoked.`);
}
