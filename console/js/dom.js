// Small DOM helpers: every value from the API goes in as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A table with a caption: columns [{label, value(row), num?}], rows. It scrolls sideways in its
// own box when wider than the screen (a phone), so the page, its header and forms, do not.
export function table(caption, columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted" }, `${caption}: ${empty}`);
  return h("div", { class: "table-scroll" }, h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : null }, c.value(row) ?? "")))),
    ),
  ));
}

export function definitions(pairs) {
  return h("dl", {}, pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));
}

export function replace(container, ...children) {
  container.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

const errorBox = () => document.getElementById("error");

// What a field the agent types must look like, in words: the API refuses one that does not
// match its pattern with the pattern itself (a regular expression no agent should have to read).
const ID_FORM = "1 to 63 lowercase letters, digits and dashes, starting with a letter or a digit";
const FORMS = {
  card_code: "a card code is 4 to 40 letters, digits and dashes, starting with a letter or a digit",
  card_prefix: "a card code prefix is 1 to 40 letters, digits and dashes, starting with a letter or a digit",
  customer_id: `a customer id is ${ID_FORM}`,
  customer_group_id: `a customer group id is ${ID_FORM}`,
  merchant_id: `a merchant id is ${ID_FORM}`,
  number: "a gift card or coupon number is 8 to 32 digits",
  key_id: "a key id is 26 capital letters and digits, as the API keys page shows it",
  reward_id: "a reward id is 1 to 128 characters, with no /, # or control character, not starting with a space",
  object: "a resource is a lowercase kind, then an id, e.g. members/2990000000017 or webhooks/wh_…",
  email: "an e-mail address is name@domain, with no space inside",
};
const PATTERN = "string_pattern_mismatch";

// A detail's message in words: a pattern refused is said as the form the field takes.
function detailMessage(d) {
  if (d.reason !== PATTERN) return d.message;
  const name = String(d.field || "").split(".").pop();
  return FORMS[name] || "it is not in the form the API takes";
}

// An error from the API (its structured `{code, message, details}`) or the network, said plainly.
export function showError(context, error) {
  const box = errorBox();
  const parts = [h("strong", {}, `${context}: `), error.message || String(error)];
  if (error.code) parts.push(h("span", { class: "muted" }, ` (${error.code}${error.status ? `, HTTP ${error.status}` : ""})`));
  // A field's detail in words (the API's message), its machine reason after it; a detail with
  // neither (e.g. insufficient_points' `requested`, `available`) shows its other values.
  const values = (d) => Object.entries(d).filter(([name]) => !["field", "in"].includes(name))
    .map(([name, value]) => `${name.replaceAll("_", " ")} ${typeof value === "object" ? JSON.stringify(value) : value}`).join(", ");
  const said = (d) => {
    const message = detailMessage(d);
    return message && d.reason ? `${message} (${d.reason})` : message || d.reason || values(d);
  };
  const details = (error.details || []).map((d) => h("li", {}, [d.field, said(d)].filter(Boolean).join(": ")));
  box.replaceChildren(h("p", {}, parts), details.length ? h("ul", {}, details) : "");
  box.hidden = false;
  setTimeout(() => uncover(box), 0); // once the caller has focused what was refused
  say(""); // the status of the action before ("Member … loaded") would contradict the error
}

// The alert stays at the screen's top (sticky, style.css): the control with the focus (a field
// refused, the button whose request was refused) is scrolled from under it, so both are seen.
function uncover(box) {
  const focused = document.activeElement;
  if (box.hidden || !focused || focused === document.body || box.contains(focused)) return;
  const under = box.getBoundingClientRect().bottom - focused.getBoundingClientRect().top;
  if (under > 0) window.scrollBy(0, -(under + 8));
}

export function clearError() {
  const box = errorBox();
  box.replaceChildren();
  box.hidden = true;
}

// A button disabled while its request is on its way loses the focus (to the body): it gets it
// back when it is enabled again, so the keyboard is where the agent left it, not at the page's
// top, after a refusal (focus elsewhere meanwhile is left where it is).
export function enable(button) {
  const lost = !document.activeElement || document.activeElement === document.body;
  button.disabled = false;
  if (lost) button.focus();
}

export function say(message) {
  document.getElementById("status").textContent = message;
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toISOString().replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

export function signed(points) {
  return points > 0 ? `+${points}` : String(points);
}

// A table of the API's pages: the first page, then a "More …" button (a native button, so
// reached with Tab and pressed with Enter) while the API gives a cursor. `fetchPage(cursor)`
// answers {rows, next}. After a click, focus moves to the first row it added.
export async function pagedTable(box, caption, columns, empty, what, fetchPage) {
  const rows = [];
  const show = async (cursor) => {
    const page = await fetchPage(cursor);
    const first = rows.length;
    rows.push(...page.rows);
    const more = page.next ? h("button", { type: "button", class: "more" }, `More ${what}`) : null;
    replace(box, table(caption, columns, rows, empty), more);
    if (more) {
      more.addEventListener("click", async () => {
        more.disabled = true;
        clearError();
        try {
          await show(page.next);
          // the first row added (none: the page was empty, then the table itself)
          const added = box.querySelectorAll("tbody tr")[first + page.rows.length] || box.querySelector("table");
          if (added) {
            added.setAttribute("tabindex", "-1");
            added.focus();
          }
          say(`${rows.length} ${what} shown.`);
        } catch (error) {
          enable(more);
          if (error.stale) return; // a newer list replaces this one
          showError(caption, error);
        }
      });
    }
  };
  await show(null);
}

// Escape inside `box` closes what it shows, as its Cancel (or toggle) does; `close` gives the
// focus back to the control that opened it. One handler a box: opening it again replaces it.
export function closeOnEscape(box, close) {
  box.onkeydown = (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault();
    box.onkeydown = null;
    close();
  };
}

// The control to give the focus back to: `opener` while it is in the page (a list read again
// replaced it), else `fallback` (the section's heading).
export function focusBack(opener, fallback) {
  (opener && opener.isConnected ? opener : document.getElementById(fallback)).focus();
}

// An admin page's error: a 403 is a key without the admin scope, said with what it may not do
// (`what`); any other error as the API says it.
export function explain(error, what) {
  if (error.status !== 403) return error;
  return { ...error, message: `This key may not ${what}: it needs an admin key.` };
}

// A field whose longest value (the API's limit) depends on a list's choice: its `maxlength`
// follows the choice, and the form's reset (sign-out) back to the first choice.
export function limitBy(select, field, limits) {
  const follow = () => field.setAttribute("maxlength", String(limits[select.value]));
  select.addEventListener("change", follow);
  select.form.addEventListener("reset", () => setTimeout(follow, 0));
  follow();
}
