// Find a member (card code, or the search route) and show everything about the card.

import { get, segment } from "./api.js";
import { openInstrument } from "./catalog.js";
import { earnedBurnedChart, pointsPerDay } from "./charts.js";
import { clearError, definitions, h, limitBy, pagedTable, replace, say, showError, signed, table, when } from "./dom.js";
import { whenLinksChange } from "./instrument_links.js";
import { memberActions } from "./member_actions.js";
import { adjustForm } from "./member_adjust.js";
import { memberPrivacy } from "./privacy.js";

const LEDGER_PAGES = 5; // up to 1,000 entries for the chart
const LOTS_PAGE = 100;

// The timeline's sources in words (its `type`), and any code of the API made readable.
const SOURCES = { ledger: "points", tier_change: "tier change", reward: "reward", instrument: "instrument" };
const words = (code) => String(code ?? "").replaceAll("_", " ");

const view = () => document.getElementById("member-view");

let showSection = () => {};
let showCustomer = () => {};

// `show` opens a section, `openCustomer` a customer in the Customers section (customers.js,
// which opens cards here: given by the shell rather than imported both ways).
export function setupMembers(show, openCustomer) {
  showSection = show;
  showCustomer = openCustomer;
  whenLinksChange("member", () => (shown ? loadLinkedCustomer(shown.card, shown.erasedAt) : null));
  document.getElementById("find-card").addEventListener("submit", (event) => {
    event.preventDefault();
    openMember(document.getElementById("card-code").value);
  });
  // the API's longest value for each filter: an e-mail, a card code prefix, a customer id
  limitBy(document.getElementById("search-by"), document.getElementById("search-value"), { email: 254, card_prefix: 40, customer_id: 63 });
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search(document.getElementById("search-by").value, document.getElementById("search-value").value.trim());
  });
}

// The search made last is the one shown: an earlier search's slower answer is dropped.
let searching = 0;
const STALE = Object.assign(new Error("an earlier search"), { stale: true });

async function search(filter, value) {
  clearError();
  const results = document.getElementById("search-results");
  const mine = ++searching;
  try {
    await pagedTable(results, `Members matching ${value}`, [
      { label: "Card code", value: (m) => h("button", { type: "button", onclick: () => openMember(m.card_code) }, m.card_code) },
      { label: "Program", value: (m) => m.program_id },
      { label: "Name", value: (m) => m.name || "" },
      { label: "E-mail", value: (m) => m.email || "" },
      { label: "Customer", value: (m) => m.customer_id || "" },
    ], "no member found.", "members", async (cursor) => {
      const page = await get("/v1/members", { [filter]: value, limit: 50, cursor });
      if (mine !== searching) throw STALE;
      return { rows: page.items, next: page.next_cursor };
    });
    say(`${results.querySelectorAll("tbody tr").length} member(s) found.`);
    // the keyboard and the screen reader land on the results (or the line saying there are none)
    const landing = results.querySelector("table") || results.firstElementChild;
    landing.setAttribute("tabindex", "-1");
    landing.focus();
  } catch (error) {
    if (error === STALE || mine !== searching) return;
    replace(results);
    showError("Member search", error);
  }
}

// The member asked for last: a slower answer for a card opened before it is dropped.
let opening = 0;

// Sign-out: a member or a search still on its way is dropped, not drawn for the next agent.
export function forgetMembers() {
  opening++;
  searching++;
  shown = null;
}

// The member shown ({card, erasedAt}): its customer's gift cards and coupons are read again when
// a link changes (instrument_links.js), in the Customers or Gift cards section meanwhile.
let shown = null;

// `keep` (the member read again after a write, `reopen`): what the agent typed in the view's
// other forms is kept (a half-typed adjustment survived no purchase); the form just sent
// (`keep`, a form, or null for none) is drawn empty.
export async function openMember(rawCard, { keep } = {}) {
  const card = String(rawCard).trim();
  const typed = keep === undefined ? null : typedValues(keep);
  clearError();
  shown = null;
  if (!card) {
    showError("Open member", { message: "Type a card code (spaces only is none).", code: "validation_error" });
    return;
  }
  const mine = ++opening;
  replace(view(), h("p", { class: "muted" }, `Loading ${card}…`));
  let member;
  try {
    member = await get(`/v1/members/${segment(card)}`);
  } catch (error) {
    if (mine !== opening) return;
    replace(view());
    showError(`Member ${card}`, error);
    return;
  }
  const ledger = await ledgerEntries(card);
  if (mine !== opening) return;
  const reopen = (form) => openMember(member.card_code, { keep: form instanceof HTMLFormElement ? form : null });
  const here = { current: () => mine === opening, reopen };
  render(member, ledger, here);
  view().append(memberActions(member, here), memberPrivacy(member, here));
  if (typed) restoreTyped(typed);
  say(`Member ${member.card_code} loaded.`);
  shown = { card: member.card_code, erasedAt: member.erased_at };
  loadLinkedCustomer(member.card_code, member.erased_at);
  loadLots(member.card_code);
  loadHistory(member.card_code);
  loadRewards(member.card_code);
  loadTimeline(member.card_code);
}

// The values typed in the member view's fields (by id), but those of `except`.
function typedValues(except) {
  const values = new Map();
  for (const field of view().querySelectorAll("input[id], textarea[id], select[id]")) {
    if ((except && except.contains(field)) || field.type === "file") continue;
    values.set(field.id, field.value);
  }
  return values;
}

// The values typed put back in the view drawn again (a list read later, the rewards held or the
// VIP tiers to grant, starts anew: its choice is not among its options yet).
function restoreTyped(values) {
  for (const [id, value] of values) {
    const field = document.getElementById(id);
    if (!field || !view().contains(field) || field.value === value) continue;
    if (field.tagName === "SELECT" && ![...field.options].some((option) => option.value === value)) continue;
    field.value = value;
    field.dispatchEvent(new Event("input", { bubbles: true })); // e.g. a reward's cost shown again
  }
}

async function ledgerEntries(card) {
  const entries = [];
  let cursor = null;
  try {
    for (let page = 0; page < LEDGER_PAGES; page++) {
      const answer = await get(`/v1/members/${segment(card)}/ledger`, { limit: 200, cursor });
      entries.push(...answer.entries);
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
  } catch (error) {
    return error;
  }
  return entries;
}

function failed(what, error) {
  return h("p", { class: "error" }, `${what}: ${error.message} (${error.code || "error"})`);
}

function render(member, ledger, here) {
  const nq = member.balances.nq;
  const q = member.balances.q;
  const expiry = nq.next_expiry ? `${nq.next_expiry.points} points on ${when(nq.next_expiry.at)}` : "none";
  replace(
    view(),
    h("h3", { id: "member-title", tabindex: "-1" }, `Member ${member.card_code}`),
    h(
      "div",
      { class: "cards", id: "balances" },
      h("div", { class: "card" }, h("div", {}, "NQ points available"), h("div", { class: "big", id: "nq-available" }, nq.available),
        h("div", { class: "muted" }, `pending ${nq.pending}`)),
      h("div", { class: "card" }, h("div", {}, "Q points valid"), h("div", { class: "big", id: "q-valid" }, q.valid),
        h("div", { class: "muted" }, `pending ${q.pending}`)),
      h("div", { class: "card" }, h("div", {}, "Tier"), h("div", { class: "big", id: "tier-name" }, member.tier ? member.tier.name : "none"),
        h("div", { class: "muted" }, member.vip_tiers.length ? `VIP: ${member.vip_tiers.join(", ")}` : "no VIP tier")),
    ),
    definitions([
      ["Program", member.program_id],
      ["Customer reference", member.customer_ref],
      ["Linked customer", h("span", { id: "linked-customer" }, "…")],
      ["Gift cards and coupons", h("div", { id: "member-instruments" }, "…")], // the linked customer's
      ["Member since", when(member.subscribed_at)],
      ["Customer groups", member.customer_groups.join(", ") || "none"],
      ["Next expiry", expiry],
      ...(member.erased_at ? [["Personal data", `erased ${when(member.erased_at)}`]] : []),
    ]),
    h("h4", {}, "Lots"),
    h("div", { id: "lots" }, h("p", { class: "muted" }, "Loading the lots…")),
    ledger instanceof Error ? failed("Ledger", ledger) : earnedBurnedChart(pointsPerDay(ledger)),
    h("div", { id: "tier-history" }, h("p", { class: "muted" }, "Loading the tier history…")),
    h("div", { id: "rewards" }, h("p", { class: "muted" }, "Loading the rewards…")),
    ledger instanceof Error ? null : table("Ledger (newest first)", [
      { label: "When", value: (e) => when(e.at) },
      { label: "Kind", value: (e) => words(e.kind) },
      { label: "Reference", value: (e) => e.reference || "" },
      { label: "Reason", value: (e) => e.reason_code || "" },
      { label: "Comment", value: (e) => e.comment || "" },
      { label: "NQ", value: (e) => signed(e.nq), num: true },
      { label: "Q", value: (e) => signed(e.q), num: true },
      { label: "NQ balance", value: (e) => e.nq_balance, num: true },
    ], ledger.slice(0, 50), "no entry."),
    adjustForm(member.card_code, here),
    h("h4", {}, "Timeline"),
    h("div", { id: "timeline" }, h("p", { class: "muted" }, "Loading the timeline…")),
  );
  document.getElementById("member-title").focus();
}

// The customer the card is linked to (id, name, e-mail), as the member search finds it: the
// card itself is the first card of its own prefix. An erased card is found by no search.
// Its gift cards and coupons are the customer's (`GET /v1/customers/{id}`, its links), each
// opened in its section, as the customer view lists them.
async function loadLinkedCustomer(card, erasedAt) {
  const box = document.getElementById("linked-customer");
  const instruments = document.getElementById("member-instruments");
  if (!box || !instruments) return;
  if (erasedAt) {
    // the member search, which names the customer, leaves erased cards out: "none" would lie
    box.textContent = "not shown: the card's personal data was erased";
    instruments.textContent = "not shown: the card's personal data was erased";
    return;
  }
  let hit;
  try {
    const page = await get("/v1/members", { card_prefix: card, limit: 1 });
    hit = page.items.find((m) => m.card_code === card);
    if (hit && hit.customer_id) {
      // a button that opens the customer (its privacy block, phone, instruments), as the
      // customer view's cards open here
      const id = hit.customer_id;
      box.replaceChildren(h("button", {
        type: "button",
        "aria-label": `Open customer ${id} in Customers`,
        onclick: () => {
          showSection("customers");
          showCustomer(id);
        },
      }, [id, hit.name, hit.email].filter(Boolean).join(" · ")));
    } else box.textContent = "none";
  } catch (error) {
    box.textContent = `could not be read (${error.code || "error"})`;
    instruments.textContent = "not shown: the linked customer could not be read";
    return;
  }
  if (!hit || !hit.customer_id) {
    instruments.textContent = "none: the card is linked to no customer";
    return;
  }
  try {
    const customer = await get(`/v1/customers/${segment(hit.customer_id)}`);
    const numbers = customer.links.instruments;
    const open = (number) => {
      showSection("instruments");
      openInstrument(number);
    };
    instruments.replaceChildren(numbers.length
      ? h("ul", { class: "inline" }, numbers.map((number) => h("li", {},
        h("button", { type: "button", onclick: () => open(number), "aria-label": `Open ${number} in Gift cards and coupons` }, number))))
      : "none");
  } catch (error) {
    instruments.textContent = `could not be read (${error.code || "error"})`;
  }
}

// A list of the member's, a page at a time in its box (every page reachable with More): the
// route `/v1/members/{card}/<route>` answers `rows` (its list's name) and `next_cursor`.
// `prepare(rows)`, if given, completes a page's rows before they are shown.
async function loadPaged(card, { id, title, columns, empty, noun, route, rows, limit = 50, prepare }) {
  const box = document.getElementById(id);
  if (!box) return;
  try {
    await pagedTable(box, title, columns, empty, noun, async (cursor) => {
      const page = await get(`/v1/members/${segment(card)}/${route}`, { limit, cursor });
      if (prepare) await prepare(page[rows]);
      return { rows: page[rows], next: page.next_cursor };
    });
  } catch (error) {
    replace(box, failed(title.split(" (")[0], error));
  }
}

// The live lots, soonest expiry first (`GET /v1/members/{card}/lots`).
const loadLots = (card) => loadPaged(card, {
  id: "lots", title: "Lots (soonest expiry first)", empty: "no lot holds points.", noun: "lots",
  route: "lots", rows: "lots", limit: LOTS_PAGE,
  columns: [
    { label: "Kind", value: (l) => l.kind.toUpperCase() },
    { label: "Points left", value: (l) => l.points, num: true },
    { label: "Earned", value: (l) => l.earned ?? "—", num: true },
    { label: "Earned on", value: (l) => when(l.earned_at) },
    { label: "Available from", value: (l) => when(l.available_at) },
    { label: "Expires", value: (l) => (l.expires_at ? when(l.expires_at) : "never") },
    { label: "Order", value: (l) => l.order_id || "" },
  ],
});

// The tier history and the rewards, newest first.
const loadHistory = (card) => loadPaged(card, {
  id: "tier-history", title: "Tier history", empty: "no tier change.", noun: "tier changes",
  route: "tier-history", rows: "changes",
  columns: [
    { label: "When", value: (c) => when(c.at) },
    { label: "Cause", value: (c) => c.cause.replaceAll("_", " ") },
    { label: "From", value: (c) => (c.previous_tier ? c.previous_tier.name : "—") },
    { label: "To", value: (c) => (c.new_tier ? c.new_tier.name : "—") },
    { label: "VIP", value: (c) => c.vip_tier || "" },
    { label: "Reason", value: (c) => c.reason || "" },
    { label: "Q points", value: (c) => c.q_points, num: true },
  ],
});

// Each reward is named from the catalog (`GET /v1/rewards/{id}`: one read per reward of the
// member view, whatever its rows; the catalog's list would page through every reward of the
// group); a name that cannot be read leaves the id.
function loadRewards(card) {
  const names = new Map();
  const nameOf = (id) => {
    if (!names.has(id)) names.set(id, get(`/v1/rewards/${segment(id)}`).then((r) => r.name || null, () => null));
    return names.get(id);
  };
  const named = (rows) => Promise.all(rows.map(async (a) => { a.reward_name = await nameOf(a.reward_id); }));
  return loadPaged(card, { ...REWARDS, prepare: named });
}

const REWARDS = {
  id: "rewards", title: "Rewards", empty: "no reward.", noun: "rewards",
  route: "rewards", rows: "attributions",
  columns: [
    {
      label: "Reward",
      value: (a) => (a.reward_name
        ? h("span", { title: `Reward id ${a.reward_id}` }, a.reward_name, " ", h("small", { class: "muted" }, `(${a.reward_id})`))
        : a.reward_id),
    },
    { label: "State", value: (a) => a.status },
    { label: "Bought", value: (a) => when(a.created_at) },
    { label: "Quantity", value: (a) => a.quantity, num: true },
    { label: "Burned", value: (a) => a.burned, num: true },
    { label: "NQ points spent", value: (a) => a.nqp_spent, num: true },
    { label: "Valid until", value: (a) => when(a.valid_until) },
    // the purchase's context, then each use's (the API's `context`, as text)
    {
      label: "Context",
      value: (a) => [a.context, ...(a.burns || []).filter((b) => b.context).map((b) => `used: ${b.context}`)]
        .filter(Boolean).join(" · "),
    },
  ],
};

async function loadTimeline(card) {
  const box = document.getElementById("timeline");
  if (!box) return;
  try {
    await pagedTable(box, "Timeline (newest first)", [
      { label: "When", value: (i) => when(i.at) },
      { label: "What", value: (i) => `${SOURCES[i.type] || words(i.type)}: ${words(i.kind)}` },
      // an adjustment's comment (customer service's free text) after its summary, as text
      { label: "Summary", value: (i) => (i.detail && i.detail.comment ? `${i.summary}: “${i.detail.comment}”` : i.summary) },
    ], "nothing happened yet.", "timeline items", async (cursor) => {
      const page = await get(`/v1/members/${segment(card)}/timeline`, { limit: 50, cursor });
      return { rows: page.items, next: page.next_cursor };
    });
  } catch (error) {
    replace(box, h("p", { class: "notice" }, `The timeline could not be read: ${error.message} (${error.code}).`));
  }
}
