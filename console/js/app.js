// The console's shell: sign in and out, and the sections.

import { forgetAudit, loadAudit, setupAudit } from "./audit.js";
import { configure, get, keyGroup, setKey, whenKeyRefused } from "./api.js";
import { forgetInstruments, forgetPrograms, loadPrograms, setupInstruments } from "./catalog.js";
import { forgetCustomers, openCustomer, setupCustomers } from "./customers.js";
import { clearError, say, showError } from "./dom.js";
import { forgetImports, refreshImports, setupImports, stopImports } from "./imports.js";
import { forgetJobs, loadJobs, setupJobs } from "./jobs.js";
import { forgetKeys, leaveKeys, loadKeys, setupKeys } from "./keys.js";
import { forgetMembers, setupMembers } from "./member.js";
import { forgetWebhooks, loadWebhooks } from "./webhooks.js";

const SECTIONS = ["members", "customers", "programs", "jobs", "imports", "upload", "instruments", "webhooks", "audit", "keys"];
const $ = (id) => document.getElementById(id);

function show(section, { focus = true } = {}) {
  clearError(); // an error of the section left behind is not the next one's
  for (const name of SECTIONS) $(name).hidden = name !== section;
  for (const button of document.querySelectorAll("nav button[data-section]")) {
    if (button.dataset.section === section) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  stopImports();
  leaveKeys(); // a new key's secret is shown once, and only while the agent stays on the page
  say(""); // what the status line said was about the section left
  if (section === "programs") loadPrograms();
  if (section === "jobs") loadJobs();
  if (section === "imports") refreshImports();
  if (section === "webhooks") loadWebhooks();
  if (section === "audit") loadAudit();
  if (section === "keys") loadKeys();
  if (focus) $(`${section}-title`).focus();
}

function signedIn(signed) {
  $("signin").hidden = signed;
  $("app").hidden = !signed;
  $("sign-out").hidden = !signed;
  $("who").hidden = !signed;
  $("who").textContent = signed ? `Loyalty group ${keyGroup() || "?"}` : "";
}

async function signIn(key) {
  clearError();
  setKey(key);
  try {
    await get("/v1/api-keys", { limit: 1 }); // an admin route: checks the key and its scope
  } catch (error) {
    setKey(null);
    signedIn(false);
    const message = error.status === 401
      ? "The key was refused: it is not a valid key of this API, or it was revoked or expired."
      : error.status === 403
        ? "This key may not use the console: it needs an admin key."
        : error.message;
    showError("Sign in", { ...error, message, code: error.code, status: error.status, details: error.details });
    $("api-key").focus();
    return false;
  }
  signedIn(true);
  show("members", { focus: false });
  $("card-code").focus();
  say(`Signed in to loyalty group ${keyGroup() || "?"}.`);
  return true;
}

function signOut() {
  setKey(null);
  sessionStorage.clear();
  stopImports();
  forgetImports();
  forgetMembers(); // a member or a search still on its way
  forgetCustomers(); // the customer shown, its search, its export's saved copy
  forgetWebhooks();
  forgetAudit();
  forgetJobs(); // the programs, the runs and the run shown
  forgetKeys(); // a new key's secret, the list, the keys of unanswered creates and rotations
  forgetInstruments(); // a gift card or coupon still on its way
  forgetPrograms(); // the programs still on their way
  for (const id of ["member-view", "search-results", "programs-view", "recent-imports", "imports-view", "report-view", "instrument-view"]) $(id).replaceChildren();
  for (const form of document.querySelectorAll("main form")) form.reset(); // what the agent typed
  signedIn(false);
  clearError();
  say("Signed out: the key is forgotten.");
  $("api-key").focus();
}

// A key revoked or expired while signed in: every call would fail, so sign out and say why,
// once the section that made the call has shown its own error (a task later).
function keyRefused(error) {
  if ($("app").hidden) return; // signing in: signIn says it
  setTimeout(() => {
    if ($("app").hidden) return;
    signOut();
    showError("Signed out", {
      ...error,
      message: "The API refused the key: it was revoked or has expired. Sign in with a valid admin key.",
    });
  }, 0);
}

async function main() {
  whenKeyRefused(keyRefused);
  const stored = await configure();
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    signIn(key);
  });
  $("sign-out").addEventListener("click", signOut);
  for (const button of document.querySelectorAll("nav button[data-section]")) {
    button.addEventListener("click", () => show(button.dataset.section));
  }
  setupMembers(show, openCustomer);
  setupCustomers(show);
  setupImports(show);
  setupInstruments();
  setupAudit();
  setupJobs();
  setupKeys((message) => {
    signOut();
    showError("Signed out", { message });
  });
  if (stored) await signIn(stored);
  else $("api-key").focus();
  document.body.dataset.ready = "true";
}

main();
