// Link a gift card or coupon to a customer, move it to another, unlink it (admin routes
// `PUT`/`DELETE /v1/instruments/{number}/customer`, docs/instruments.md "Instruments and
// customers"): from the instrument shown and from the customer shown. Idempotent by the
// instrument (the link it has already, or none, changes nothing), so no Idempotency-Key: a write
// that got no answer is the same request sent again.

import { call, segment } from "./api.js";
import { clearError, closeOnEscape, enable, h, say, showError } from "./dom.js";

const WORDS = {
  customer_not_found: "No customer of this loyalty group has this id.",
  instrument_not_found: "No gift card or coupon of this loyalty group has this number.",
  customer_erased: "The customer's personal data was erased: nothing can be linked to it (a returning person is a new customer id).",
  concurrent_update: "Someone changed the gift card or coupon at the same moment: send it again.",
};

function explained(error) {
  if (error.status === 403) return { ...error, message: "This key may not do this: it needs an admin key." };
  return WORDS[error.code] ? { ...error, message: WORDS[error.code] } : error;
}

// The views to read again after a change (the customer shown, the instrument shown, the member
// shown: its customer's gift cards and coupons), set by customers.js, catalog.js and member.js:
// a move changes two customers' lists and the instrument's.
const views = { customer: async () => {}, instrument: async () => {}, member: async () => {} };
export function whenLinksChange(kind, refresh) {
  views[kind] = refresh;
}

// One write: its button disabled while on its way (a double click sends once), its refusal in
// words (not after sign-out or once the agent moved on: a 401 has signed out), then the views
// read again, the focus on `heading`, the status line saying `said`.
async function write(button, title, current, heading, said, send) {
  if (button.disabled) return;
  clearError();
  button.disabled = true;
  try {
    await send();
  } catch (error) {
    enable(button);
    if (current() && error.status !== 401) showError(title, explained(error));
    return;
  }
  button.disabled = false;
  if (!current()) {
    if (!document.getElementById("app").hidden) say(`${said}.`);
    return;
  }
  await Promise.all([views.customer(), views.instrument(), views.member()]);
  const landing = document.getElementById(heading);
  if (landing) landing.focus();
  say(`${said}.`);
}

function refuse(title, field, message) {
  showError(title, { message, code: "validation_error" });
  field.focus();
}

const link = (number, customerId) => call("PUT", `/v1/instruments/${segment(number)}/customer`, { body: { customer_id: customerId } });
const unlink = (number) => call("DELETE", `/v1/instruments/${segment(number)}/customer`);

// Unlink, once confirmed in the page: `opener` opens the question in `line`; Cancel or Escape
// close it, the focus back on `opener`.
function unlinkButton(number, customerId, line, current, heading) {
  const opener = h("button", { type: "button", class: "danger", "aria-label": `Unlink ${number} from customer ${customerId}` }, "Unlink");
  opener.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger" }, `Yes, unlink ${number}`);
    const no = h("button", { type: "button" }, "Cancel");
    line.replaceChildren(`Unlink ${number} from customer ${customerId}? `, yes, " ", no);
    line.hidden = false;
    no.addEventListener("click", () => {
      line.hidden = true;
      line.replaceChildren();
      line.onkeydown = null;
      opener.focus();
    });
    closeOnEscape(line, () => no.click());
    yes.addEventListener("click", () => write(yes, `Unlink ${number}`, current, heading,
      `Unlinked ${number} from customer ${customerId}`, () => unlink(number)));
    yes.focus();
  });
  return opener;
}

// The instrument view's block: link it to a customer (typed id), move it, unlink it.
export function instrumentCustomer(found, current) {
  const number = found.number;
  const linked = found.customer_id;
  const field = h("input", { id: "instrument-link-customer", type: "text", autocomplete: "off", maxlength: 63 });
  const button = h("button", { type: "submit" }, linked ? "Move to customer" : "Link to customer");
  const form = h(
    "form", { id: "instrument-link-form", class: "stack" },
    h("label", { for: "instrument-link-customer" }, linked ? "Customer to move it to (its id)" : "Customer to link it to (its id)"), field,
    h("span"), button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (button.disabled) return;
    const title = `Link ${number}`;
    const customerId = field.value.trim();
    if (!customerId) return refuse(title, field, "Type the customer id (spaces only is none).");
    const said = linked && linked !== customerId
      ? `Moved ${number} from customer ${linked} to customer ${customerId}` : `Linked ${number} to customer ${customerId}`;
    write(button, title, current, "instrument-title", said, () => link(number, customerId));
  });
  const line = h("p", { id: "instrument-unlink-confirm", hidden: true });
  return h(
    "div", { id: "instrument-customer" },
    h("h4", {}, "Customer"),
    linked ? h("p", {}, `Linked to customer ${linked}. `, unlinkButton(number, linked, line, current, "instrument-title")) : h("p", { class: "muted" }, "Linked to no customer."),
    line, form,
  );
}

// The customer view's block: its gift cards and coupons, each with Unlink, and a number to link
// (one linked to another customer moves here). An erased customer takes no new link.
export function customerInstruments(customer, current) {
  const id = customer.customer_id;
  const numbers = customer.links.instruments;
  const line = h("p", { id: "customer-unlink-confirm", hidden: true });
  const list = numbers.length
    ? h("ul", { class: "inline", id: "customer-instruments" }, numbers.map((number) => h("li", {}, `${number} `, unlinkButton(number, id, line, current, "customer-title"))))
    : h("p", { class: "muted", id: "customer-instruments" }, "none");
  if (customer.erased) return h("div", {}, list, line);
  const field = h("input", { id: "customer-link-number", type: "text", autocomplete: "off", inputmode: "numeric" });
  const button = h("button", { type: "submit" }, "Link to this customer");
  const form = h(
    "form", { id: "customer-link-form", class: "stack" },
    h("label", { for: "customer-link-number" }, "Number of a gift card or coupon to link"), field,
    h("span"), button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (button.disabled) return;
    const number = field.value.replace(/\s+/g, "");
    const title = `Link to customer ${id}`;
    if (!number) return refuse(title, field, "Type a gift card or coupon number (spaces only is none).");
    write(button, title, current, "customer-title", `Linked ${number} to customer ${id}`, () => link(number, id));
  });
  return h("div", {}, list, line, form);
}
