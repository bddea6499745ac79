// Programs and their tiers; gift card and coupon look-up (and its customer link).

import { allPrograms, get, segment } from "./api.js";
import { membersPerTierChart } from "./charts.js";
import { clearError, definitions, h, replace, say, showError, table, when } from "./dom.js";
import { instrumentCustomer, whenLinksChange } from "./instrument_links.js";

// The programs read last are the ones shown: an answer after the agent left the section, read
// it again, or signed out is dropped (its status line would speak of another section).
let reading = 0;
const readingNow = (mine) => mine === reading && !document.getElementById("programs").hidden && !document.getElementById("app").hidden;

export function forgetPrograms() {
  reading++;
}

export async function loadPrograms() {
  const view = document.getElementById("programs-view");
  const mine = ++reading;
  clearError();
  let programs;
  try {
    programs = await allPrograms();
  } catch (error) {
    if (readingNow(mine)) showError("Programs", error);
    return;
  }
  // Members per tier, as each program's latest nightly reconciliation counted them.
  const tiered = programs.filter((p) => p.tier_settings || (p.vip_tiers && p.vip_tiers.length));
  const charts = await Promise.all(tiered.map(async (p) => {
    try {
      return membersPerTierChart(p, await get(`/v1/programs/${segment(p.program_id)}/tier-counts`));
    } catch (error) {
      return h("p", { class: "error" }, `Members per tier of ${p.name}: ${error.message}`);
    }
  }));
  if (!readingNow(mine)) return;
  replace(
    view,
    table("Programs", [
      { label: "Program", value: (p) => p.program_id },
      { label: "Name", value: (p) => p.name },
      { label: "Kind", value: (p) => p.kind },
      { label: "Currency", value: (p) => p.currency },
      { label: "Starts", value: (p) => when(p.starts_at) },
      { label: "Ends", value: (p) => when(p.ends_at) },
      { label: "Tiers", value: (p) => (p.tier_settings ? p.tier_settings.tiers.length : 0), num: true },
    ], programs, "no program yet."),
    programs.filter((p) => p.tier_settings).map((p) => table(`Tiers of ${p.name}`, [
      { label: "Rank", value: (t) => t.rank, num: true },
      { label: "Tier", value: (t) => t.name },
      { label: "Entry (Q points)", value: (t) => t.entry_threshold, num: true },
      { label: "Kept from (Q points)", value: (t) => t.downgrade_threshold, num: true },
      // An unset multiplier is the tier's rank (DOMAIN.md), as the engine applies it.
      { label: "Q multiplier", value: (t) => t.q_multiplier ?? t.rank, num: true },
      { label: "NQ multiplier", value: (t) => t.nq_multiplier ?? t.rank, num: true },
    ], p.tier_settings.tiers)),
    h("div", { id: "members-per-tier" }, ...charts),
  );
  say(`${programs.length} program(s).`);
}

// The number looked up last is the one shown: a slower answer for a number looked up before it,
// or one arriving after sign-out, is dropped. A link changed (instrument_links.js) reads the
// number shown again.
let looking = 0;
let settled = 0; // the last look-up answered: one on its way will show the link as it is now
let shown = null;

export function forgetInstruments() {
  looking++;
  shown = null;
}

export function setupInstruments() {
  whenLinksChange("instrument", () => (shown ? lookUp(shown, { again: true }) : null));
  document.getElementById("instrument-form").addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp(document.getElementById("instrument-number").value.replace(/\s+/g, ""));
  });
}

// A number opened from elsewhere (the member view's customer instruments): looked up as typed.
export function openInstrument(number) {
  document.getElementById("instrument-number").value = number;
  return lookUp(number);
}

async function lookUp(number, { again = false } = {}) {
  if (again && settled !== looking) return;
  if (!again) clearError();
  const mine = ++looking;
  const view = document.getElementById("instrument-view");
  if (!number) {
    shown = null;
    replace(view);
    showError("Look up", { message: "Type a gift card or coupon number (spaces only is none).", code: "validation_error" });
    return;
  }
  try {
    const found = await get(`/v1/instruments/${segment(number)}`);
    if (mine !== looking) return;
    settled = mine;
    shown = found.number;
    const discount = found.discount
      ? (found.discount.percent ? `${found.discount.percent} % off` : `${found.discount.amount} ${found.currency || ""} off`)
      : null;
    replace(
      view,
      h("h3", { id: "instrument-title", tabindex: "-1" }, `${found.kind.replaceAll("_", " ")} ${found.number}`),
      definitions([
        ["Status", h("span", { id: "instrument-status" }, found.status)],
        ["Series", `${found.series_name} (${found.series_id})`],
        ["Balance", found.balance !== null ? h("span", { id: "instrument-balance" }, `${found.balance} ${found.currency || ""}`.trim()) : null],
        ["Discount", discount],
        ["Activated", found.activated_at ? when(found.activated_at) : "not yet"],
        ["Valid until", when(found.valid_until)],
        ["Customer", h("span", { id: "instrument-customer-id" }, found.customer_id || "none")],
      ]),
      instrumentCustomer(found, () => mine === looking),
    );
    if (again) return; // read again after a link changed: the write says what it did
    document.getElementById("instrument-title").focus();
    say(`Found ${found.number}.`);
  } catch (error) {
    if (mine !== looking) return;
    settled = mine;
    if (again) return; // the view shown stays; the write said what it did
    shown = null;
    replace(view);
    showError(`Number ${number}`, error);
  }
}
