// Customer service's actions on a member's VIP tiers and rewards (the member view's block).

import { call, everyPage, get, noFinalAnswer, segment } from "./api.js";
import { clearError, closeOnEscape, enable, h, say, showError, when } from "./dom.js";

// The API's refusals of these actions in words (docs/api.md, Errors); any other as the API says it.
const WORDS = {
  insufficient_points: "The member does not hold enough NQ points for this.",
  out_of_stock: "This reward is out of stock.",
  reward_codes_exhausted: "Every code of this reward was handed out: none is left to give.",
  codes_not_loaded: "This reward's codes are not loaded yet.",
  reward_expired: "This reward has expired.",
  already_burned: "This reward was already used in full.",
  insufficient_quantity: "Fewer units of this reward are left than asked.",
  burn_outside_validity: "The reward is outside its validity: not valid yet, or no longer.",
  reward_not_found: "No reward of the catalog has this id.",
  attribution_not_found: "The member holds no such reward.",
  vip_tier_not_found: "The program has no such VIP tier.",
  member_not_found: "The card was not found.",
  concurrent_update: "Someone changed the member at the same moment: send it again.",
  burn_date_in_future: "The moment of the use is in the future: give one past, or leave it empty for now.",
};
const NEEDS = { vip: "an admin key", rewards: "an admin or shop key" };

function explained(error, needs) {
  if (error.status === 403) return { ...error, message: `This key may not do this: it needs ${needs}.` };
  return WORDS[error.code] ? { ...error, message: WORDS[error.code] } : error;
}


// One write of a form: its button disabled while on its way (a double click sends once); `key`
// kept for a retry of the same `fingerprint` after no final answer (api.js noFinalAnswer), a new one otherwise.
function writer(button, title, needs, current) {
  let unanswered = null;
  return async (fingerprint, send) => {
    if (button.disabled) return null;
    clearError();
    const key = unanswered && unanswered.fingerprint === fingerprint ? unanswered.key : crypto.randomUUID();
    button.disabled = true;
    try {
      const answer = await send(key);
      unanswered = null;
      button.disabled = false;
      return answer;
    } catch (error) {
      unanswered = noFinalAnswer(error, { busy: true }) ? { fingerprint, key } : null;
      enable(button);
      // not after sign-out, nor once the agent opened another member (a 401 has signed out)
      if (current() && error.status !== 401) showError(title, explained(error, needs));
      return null;
    }
  };
}

// After a success: the member view read again (tier, multipliers, tier history, rewards), or, if
// the agent opened another member meanwhile, they stay on it and the status line says which.
async function done(current, reopen, card, said, form) {
  if (!current()) {
    if (!document.getElementById("app").hidden) say(`${said} (card ${card}).`);
    return;
  }
  await reopen(form); // the form sent drawn empty, what was typed in the others kept
  say(`${said}.`);
}

function refuse(title, field, message) {
  showError(title, { message, code: "validation_error" });
  field.focus();
  return null;
}

// An optional text (the store where it happened, its context), as the API takes it: empty is
// none, spaces only is refused in the page (`null` then, the field focused), else the text trimmed.
function optionalText(field, title, what) {
  const value = field.value.trim();
  if (field.value && !value) return refuse(title, field, `Type the ${what}, or leave it empty (spaces only is none).`);
  return value || undefined;
}
const storeOf = (field, title) => optionalText(field, title, "store id");
const contextOf = (field, title) => optionalText(field, title, "context");

const storeField = (id, purpose) => [
  h("label", { for: id }, `Store id (optional${purpose})`),
  h("input", { id, type: "text", maxlength: 128, autocomplete: "off" }),
];
// The situation of the purchase or the use (the API's `context`, up to 1,024 characters, kept
// with the reward or the use): e.g. the complaint it settles.
const contextField = (id, purpose) => [
  h("label", { for: id }, `Context (optional: ${purpose})`),
  h("input", { id, type: "text", maxlength: 1024, autocomplete: "off" }),
];

export function memberActions(member, { current, reopen }) {
  const card = member.card_code;
  const box = h("section", { id: "member-actions", "aria-labelledby": "vip-title" });
  box.append(vipForms(member, current, reopen), rewardForms(card, current, reopen));
  return box;
}

function vipForms(member, current, reopen) {
  const card = member.card_code;
  const held = member.vip_tiers;
  const grantTier = h("select", { id: "vip-grant-tier", required: true });
  const reason = h("input", { id: "vip-reason", type: "text", maxlength: 256 });
  const grantButton = h("button", { type: "submit" }, "Grant VIP tier");
  const grant = h(
    // shown once the program's VIP tiers are read: a grant clicked before had no tier to send
    // (the browser refused the empty list, with no request and the focus on it)
    "form", { id: "vip-grant-form", class: "stack", hidden: true },
    h("label", { for: "vip-grant-tier" }, "VIP tier to grant"), grantTier,
    h("label", { for: "vip-reason" }, "Reason for the grant"), reason,
    h("span"), grantButton,
  );
  const removeTier = h("select", { id: "vip-remove-tier" }, held.map((name) => h("option", { value: name }, name)));
  const removeButton = h("button", { type: "submit" }, "Remove VIP tier");
  const confirmLine = h("p", { id: "vip-confirm", hidden: true });
  const remove = h(
    "form", { id: "vip-remove-form", class: "stack" },
    h("label", { for: "vip-remove-tier" }, "Held VIP tier"), removeTier, h("span"), removeButton,
  );
  const program = h("p", { class: "muted", id: "vip-program" }, "Loading the program's VIP tiers…");
  const send = writer(grantButton, "Grant VIP tier", NEEDS.vip, current);
  grant.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (grantButton.disabled) return;
    const tier = grantTier.value;
    if (!tier) return refuse("Grant VIP tier", grantTier, "Choose a VIP tier of the program.");
    if (!reason.value.trim()) return refuse("Grant VIP tier", reason, "Say why the tier is granted (spaces only is none).");
    const body = { reason: reason.value.trim() };
    const path = `/v1/members/${segment(card)}/vip-tiers/${segment(tier)}`;
    const answer = await send(JSON.stringify([tier, body]), () => call("PUT", path, { body }));
    if (answer) await done(current, reopen, card, `Granted the VIP tier ${tier}`, grant);
  });
  const sendRemove = writer(removeButton, "Remove VIP tier", NEEDS.vip, current);
  remove.addEventListener("submit", (event) => {
    event.preventDefault();
    if (removeButton.disabled || !removeTier.value) return;
    const tier = removeTier.value;
    const yes = h("button", { type: "button" }, `Yes, remove ${tier}`);
    const no = h("button", { type: "button" }, "Cancel");
    const why = h("input", { id: "vip-remove-reason", type: "text", maxlength: 256 });
    confirmLine.replaceChildren(
      `Remove the VIP tier ${tier} from card ${card}? `,
      h("label", { for: "vip-remove-reason" }, "Reason for the removal (optional)"), " ", why, " ", yes, " ", no,
    );
    confirmLine.hidden = false;
    no.addEventListener("click", () => {
      confirmLine.hidden = true;
      confirmLine.replaceChildren();
      confirmLine.onkeydown = null;
      removeButton.focus();
    });
    closeOnEscape(confirmLine, () => no.click());
    yes.addEventListener("click", async () => {
      if (yes.disabled) return; // a double click removes once
      // optional; if given, not spaces only (the API would keep a blank reason in the history)
      const given = why.value;
      if (given && !given.trim()) return refuse("Remove VIP tier", why, "Say why the tier is removed, or leave the reason empty (spaces only is none).");
      yes.disabled = true;
      const path = `/v1/members/${segment(card)}/vip-tiers/${segment(tier)}`;
      const query = { reason: given.trim() || undefined };
      const answer = await sendRemove(JSON.stringify([tier, query.reason]), () => call("DELETE", path, { query }));
      if (answer) await done(current, reopen, card, `Removed the VIP tier ${tier}`, remove);
      else if (yes.isConnected) enable(yes);
    });
    why.addEventListener("keydown", (key) => {
      if (key.key === "Enter") yes.click();
    });
    why.focus();
  });
  loadVipTiers(member, grantTier, program, grant, current);
  return h(
    "div", {},
    h("h4", { id: "vip-title" }, "VIP tiers"), program, grant,
    held.length ? [remove, confirmLine] : h("p", { class: "muted" }, "The member holds no VIP tier."),
  );
}

async function loadVipTiers(member, select, line, form, current) {
  let program;
  try {
    program = await get(`/v1/programs/${segment(member.program_id)}`);
  } catch (error) {
    if (current()) line.textContent = `The program's VIP tiers could not be read: ${error.message} (${error.code || "error"}).`;
    form.hidden = true;
    return;
  }
  const free = (program.vip_tiers || []).filter((vip) => !member.vip_tiers.includes(vip.name));
  const multipliers = (vip) => `${vip.name} (Q multiplier ${vip.q_multiplier}, NQ multiplier ${vip.nq_multiplier})`;
  select.replaceChildren(...free.map((vip) => h("option", { value: vip.name }, multipliers(vip))));
  if (!free.length) {
    line.textContent = (program.vip_tiers || []).length ? "The member holds every VIP tier of the program." : "The program has no VIP tier.";
    form.hidden = true;
  } else {
    line.textContent = `${free.length} VIP tier(s) of the program to grant.`;
    form.hidden = false;
  }
}

function rewardForms(card, current, reopen) {
  const rewardId = h("input", { id: "buy-reward", type: "text", list: "buy-catalog", autocomplete: "off", maxlength: 128 });
  const catalog = h("datalist", { id: "buy-catalog" });
  const quantity = h("input", { id: "buy-quantity", type: "number", step: 1, value: 1 });
  const cost = h("p", { id: "buy-cost", class: "muted", "aria-live": "polite" });
  const listed = h("p", { id: "buy-listed", class: "muted" }, "Loading the catalog…");
  const buyButton = h("button", { type: "submit" }, "Buy reward");
  const buy = h(
    "form", { id: "buy-form", class: "stack" },
    h("span"), listed,
    h("label", { for: "buy-reward" }, "Reward id"), rewardId, catalog,
    h("label", { for: "buy-quantity" }, "Quantity to buy"), quantity, storeField("buy-store", ": where it was bought"),
    contextField("buy-context", "why it is bought, e.g. the complaint it settles"),
    h("span"), cost, h("span"), buyButton,
  );
  const buyStore = buy.querySelector("#buy-store");
  const buyContext = buy.querySelector("#buy-context");
  const prices = new Map();
  const showCost = () => {
    const each = prices.get(rewardId.value.trim());
    const units = Number(quantity.value);
    cost.textContent = each === undefined ? "" : Number.isInteger(units) && units > 0
      ? `Costs ${each * units} NQ points (${each} each).` : `Costs ${each} NQ points each.`;
  };
  rewardId.addEventListener("input", showCost);
  quantity.addEventListener("input", showCost);
  loadCatalog(catalog, listed, prices, showCost);
  const sendBuy = writer(buyButton, "Buy reward", NEEDS.rewards, current);
  buy.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (buyButton.disabled) return;
    const body = { reward_id: rewardId.value.trim(), quantity: Number(quantity.value) };
    if (!body.reward_id) return refuse("Buy reward", rewardId, "Type or pick a reward id.");
    if (!Number.isInteger(body.quantity) || body.quantity < 1) return refuse("Buy reward", quantity, "The quantity must be a whole number of at least 1.");
    body.store_id = storeOf(buyStore, "Buy reward");
    if (body.store_id === null) return null;
    body.context = contextOf(buyContext, "Buy reward");
    if (body.context === null) return null;
    const path = `/v1/members/${segment(card)}/rewards`;
    const answer = await sendBuy(JSON.stringify(body), (key) => call("POST", path, { body, headers: { "Idempotency-Key": key } }));
    const where = answer && answer.store_id ? ` at store ${answer.store_id}` : "";
    if (answer) await done(current, reopen, card, `Bought ${answer.quantity} of ${answer.reward_id} for ${answer.nqp_spent} NQ points${where}`, buy);
  });

  const attribution = h("select", { id: "use-attribution", required: true });
  const units = h("input", { id: "use-quantity", type: "number", step: 1, value: 1 });
  const useButton = h("button", { type: "submit" }, "Use reward");
  const use = h(
    "form", { id: "use-form", class: "stack", hidden: true },
    h("label", { for: "use-attribution" }, "Reward held"), attribution,
    h("label", { for: "use-quantity" }, "Quantity to use"), units, storeField("use-store", ": where it was used"),
    contextField("use-context", "why or how it is used"),
    h("label", { for: "use-at" }, "Used at (UTC; empty: now)"), h("input", { id: "use-at", type: "datetime-local", step: 1 }),
    h("span"), useButton,
  );
  const useStore = use.querySelector("#use-store");
  const useContext = use.querySelector("#use-context");
  const usedAt = use.querySelector("#use-at");
  const held = h("p", { class: "muted", id: "use-held" }, "Loading the rewards to use…");
  const older = h("button", { type: "button", class: "more", hidden: true }, "List older rewards");
  loadHeld(card, attribution, held, use, older, current);
  const sendUse = writer(useButton, "Use reward", NEEDS.rewards, current);
  use.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (useButton.disabled) return;
    const id = attribution.value;
    const body = { quantity: Number(units.value) };
    if (!Number.isInteger(body.quantity) || body.quantity < 1) return refuse("Use reward", units, "The quantity must be a whole number of at least 1.");
    body.store_id = storeOf(useStore, "Use reward");
    if (body.store_id === null) return null;
    body.context = contextOf(useContext, "Use reward");
    if (body.context === null) return null;
    if (usedAt.validity.badInput) return refuse("Use reward", usedAt, "Give the moment of the use in full (date and time, UTC), or leave it empty for now.");
    // typed in UTC, as every time of the console; empty: the API dates the use now
    if (usedAt.value) body.burned_at = `${usedAt.value}${/T\d\d:\d\d$/.test(usedAt.value) ? ":00" : ""}+00:00`;
    const path = `/v1/members/${segment(card)}/rewards/${segment(id)}/burns`;
    const answer = await sendUse(JSON.stringify([id, body]), (key) => call("POST", path, { body, headers: { "Idempotency-Key": key } }));
    const where = answer && answer.burn.store_id ? ` at store ${answer.burn.store_id}` : "";
    if (answer) await done(current, reopen, card, `Used ${answer.burn.quantity} of reward ${id}: ${answer.remaining} left (used ${when(answer.burn.burned_at)}${where})`, use);
  });
  return h(
    "div", {},
    h("h4", { id: "reward-actions-title" }, "Buy a reward"), buy,
    h("h4", {}, "Use a reward"), held, older, use,
  );
}

// A picker reads this many rewards at most (the catalog's, the member's), 200 a page.
const PICKER_CAP = 2000;

// The catalog's rewards (every page, up to PICKER_CAP) for the picker, each with its NQ cost.
async function loadCatalog(list, line, prices, showCost) {
  let read;
  try {
    read = await everyPage("/v1/rewards", "rewards", PICKER_CAP);
  } catch (error) {
    // the id can still be typed; the API says if it is not a reward
    line.textContent = `The catalog could not be read (${error.code || "error"}): type the reward id.`;
    return;
  }
  for (const reward of read.rows) {
    if (Number.isInteger(reward.nqp_value)) prices.set(reward.external_id, reward.nqp_value);
    const name = reward.name ? `${reward.name} · ` : "";
    list.append(h("option", { value: reward.external_id }, `${name}${reward.nqp_value ?? "?"} NQ points`));
  }
  line.textContent = read.more
    ? `The catalog's first ${read.rows.length} rewards to pick from; type the id of another.`
    : `${read.rows.length} reward(s) of the catalog to pick from (or type an id).`;
  showCost();
}

// The member's rewards with units left and not expired, to use: the newest PICKER_CAP read from
// every page; past them, **List older rewards** reads the next PICKER_CAP from the API's cursor
// (the list keeps what it has; the focus then on the list, or on the button if none was added).
async function loadHeld(card, select, line, form, older, current) {
  const path = `/v1/members/${segment(card)}/rewards`;
  const usable = [];
  let readCount = 0;
  let next = null;
  const read = async () => {
    const answer = await everyPage(path, "attributions", PICKER_CAP, next);
    const added = answer.rows.filter((a) => a.quantity - a.burned > 0 && ["available", "pending"].includes(a.status));
    usable.push(...added);
    readCount += answer.rows.length;
    next = answer.next;
    select.append(...added.map((a) => h(
      "option", { value: a.attribution_id },
      `${a.reward_id}: ${a.quantity - a.burned} of ${a.quantity} left (${a.status}) · ${a.attribution_id}`,
    )));
    const beyond = next ? ` (of the member's newest ${readCount} rewards; older ones are not listed yet)` : "";
    line.textContent = usable.length ? `${usable.length} reward(s) to use${beyond}.` : `The member holds no reward to use${beyond}.`;
    form.hidden = !usable.length;
    older.hidden = !next;
    return added.length;
  };
  older.addEventListener("click", async () => {
    if (older.disabled || !next) return;
    older.disabled = true;
    clearError();
    let added;
    try {
      added = await read();
    } catch (error) {
      enable(older);
      if (current() && error.status !== 401) showError("List older rewards", error);
      return;
    }
    older.disabled = false;
    if (!current()) return;
    say(`${readCount} rewards read: ${usable.length} to use.`);
    if (added) select.focus();
    else if (!older.hidden) older.focus();
    else {
      line.setAttribute("tabindex", "-1");
      line.focus();
    }
  });
  try {
    await read();
  } catch (error) {
    if (current()) line.textContent = `The rewards could not be read: ${error.message} (${error.code || "error"}).`;
  }
}
