// Customers: find a customer (by id, or by e-mail, card code prefix or customer group), show it
// with its linked cards (each opens in the Members section), export its data and erase it.

import { get, segment } from "./api.js";
import { clearError, definitions, h, limitBy, pagedTable, replace, say, showError, when } from "./dom.js";
import { customerInstruments, whenLinksChange } from "./instrument_links.js";
import { openMember } from "./member.js";
import { erasureForm, exportBlock, forgetPrivacy, privacyError } from "./privacy.js";

const $ = (id) => document.getElementById(id);
const STALE = Object.assign(new Error("an earlier search"), { stale: true });
let showSection = () => {};
// The customer opened last and the search made last are the ones shown: a slower answer for
// one asked before is dropped (as the member view does); sign-out moves both on too.
let opening = 0;
let searching = 0;
let shown = null; // the customer shown: read again when an instrument's link changed
let settled = 0; // the last opening answered: one on its way will show the links as they are now

// The customer shown read again (no focus move, no status line: the write says what it did).
async function readAgain() {
  if (!shown || settled !== opening) return;
  const mine = ++opening;
  let customer;
  try {
    customer = await get(`/v1/customers/${segment(shown)}`);
  } catch {
    if (mine === opening) settled = mine;
    return; // the view shown stays
  }
  if (mine !== opening) return;
  settled = mine;
  render(customer, mine);
}

export function setupCustomers(show) {
  showSection = show;
  whenLinksChange("customer", readAgain);
  $("find-customer").addEventListener("submit", (event) => {
    event.preventDefault();
    openCustomer($("customer-id").value);
  });
  // the API's longest value for each: an e-mail, a card code prefix, a customer group id
  limitBy($("customer-search-by"), $("customer-search-value"), { email: 254, card_prefix: 40, customer_group: 63 });
  $("customer-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    searchCustomers($("customer-search-by").value, $("customer-search-value").value.trim());
  });
}

export function forgetCustomers() {
  opening++;
  shown = null;
  searching++;
  forgetPrivacy();
  replace($("customer-view"));
  replace($("customer-results"));
}

// The customers matching a filter, each once: the member search (e-mail, card code prefix)
// answers cards with their customer; a customer group lists its customers' ids.
async function searchCustomers(filter, value) {
  clearError();
  const results = $("customer-results");
  if (!value) {
    showError("Find customers", { message: "Type what to search for (spaces only is none).", code: "validation_error" });
    return;
  }
  const mine = ++searching;
  const seen = new Map(); // customer id -> its row
  const fetchPage = async (cursor) => {
    let rows;
    let next;
    if (filter === "email") {
      // every customer holding the e-mail, with or without a card (the member search finds
      // only those with one)
      const page = await get("/v1/customers", { email: value, limit: 50, cursor });
      rows = page.customers.map((c) => ({
        customer_id: c.customer_id,
        name: [c.first_name, c.last_name].filter(Boolean).join(" "),
        email: c.email,
        cards: null,
      }));
      next = page.next_cursor;
    } else if (filter === "customer_group") {
      const page = await get(`/v1/customer-groups/${segment(value)}/customers`, { limit: 50, cursor });
      rows = page.customers.map((c) => ({ customer_id: c.customer_id, cards: null }));
      next = page.next_cursor;
    } else {
      const page = await get("/v1/members", { [filter]: value, limit: 50, cursor });
      rows = [];
      for (const m of page.items) {
        if (!m.customer_id) continue; // a card linked to no customer
        // a customer of an earlier page gets its card added to the row already shown
        if (!seen.has(m.customer_id)) {
          seen.set(m.customer_id, { ...m, cards: [] });
          rows.push(seen.get(m.customer_id));
        }
        seen.get(m.customer_id).cards.push(m.card_code);
      }
      next = page.next_cursor;
    }
    if (mine !== searching) throw STALE;
    return { rows, next };
  };
  try {
    await pagedTable(results, `Customers matching ${value}`, [
      { label: "Customer", value: (c) => h("button", { type: "button", onclick: () => openCustomer(c.customer_id) }, c.customer_id) },
      { label: "Name", value: (c) => c.name || "" },
      { label: "E-mail", value: (c) => c.email || "" },
      { label: "Cards found", value: (c) => (c.cards === null ? "open the customer to see" : c.cards.join(", ")) },
    ], "no customer found (an erased customer is found by its id only).", "customers", fetchPage);
    if (mine !== searching) return;
    say(`${results.querySelectorAll("tbody tr").length} customer(s) found.`);
    const landing = results.querySelector("table") || results.firstElementChild;
    landing.setAttribute("tabindex", "-1");
    landing.focus();
  } catch (error) {
    if (error === STALE || mine !== searching) return;
    replace(results);
    const subject = filter === "customer_group" ? `Customer group ${value}` : value;
    privacyError("Find customers", subject, error);
  }
}

export async function openCustomer(rawId) {
  const id = String(rawId).trim();
  clearError();
  if (!id) {
    showError("Open customer", { message: "Type a customer id (spaces only is none).", code: "validation_error" });
    return;
  }
  const mine = ++opening;
  shown = null;
  forgetPrivacy(); // the export of the customer shown before
  replace($("customer-view"), h("p", { class: "muted" }, `Loading ${id}…`));
  let customer;
  try {
    customer = await get(`/v1/customers/${segment(id)}`);
  } catch (error) {
    if (mine !== opening) return;
    settled = mine;
    replace($("customer-view"));
    privacyError(`Customer ${id}`, `Customer ${id}`, error);
    return;
  }
  if (mine !== opening) return;
  settled = mine;
  render(customer, mine);
  $("customer-title").focus();
  say(`Customer ${customer.customer_id} loaded.`);
}

function openCard(card) {
  showSection("members");
  openMember(card);
}

function render(customer, mine) {
  const id = customer.customer_id;
  shown = id;
  const subject = `Customer ${id}`;
  const current = () => mine === opening;
  const path = `/v1/customers/${segment(id)}`;
  const name = [customer.first_name, customer.last_name].filter(Boolean).join(" ");
  const cards = customer.links.card_codes;
  const done = (erased) => {
    if (!current()) return;
    render(erased, mine);
    $("customer-title").focus();
  };
  replace(
    $("customer-view"),
    h("h3", { id: "customer-title", tabindex: "-1" }, subject),
    definitions([
      ["Name", customer.erased ? "erased" : name || "none"],
      ["E-mail", customer.erased ? "erased" : customer.email || "none"],
      ["Phone", customer.erased ? "erased" : customer.phone || "none"],
      ["Customer groups", customer.customer_groups.join(", ") || "none"],
      ["Member cards", cards.length
        ? h("ul", { class: "inline", id: "customer-cards" }, cards.map((card) => h("li", {},
          h("button", { type: "button", onclick: () => openCard(card), "aria-label": `Open card ${card} in Members` }, card))))
        : "none"],
      ["Gift cards and coupons", customerInstruments(customer, current)],
      ["Customer since", when(customer.created_at)],
      ["Last changed", when(customer.updated_at)],
      ...(customer.erased ? [["Personal data", h("span", { id: "customer-erased" }, `erased ${when(customer.erased_at)}`)]] : []),
    ]),
    h("h4", {}, "Privacy"),
    exportBlock({ kind: "customer", id, subject, path: `${path}/export`, current }),
    customer.erased
      ? h("p", { class: "notice" }, `The customer's personal data was erased ${when(customer.erased_at)}: the export holds what is kept.`)
      : erasureForm({ kind: "customer", id, subject, path: `${path}/erasure`, current, done }),
  );
}
