// The member view's Adjust points form (`POST /v1/members/{card}/adjustments`): a signed change
// of NQ or Q points with a reason code and a comment, sent once per submit (an unanswered
// request is retried under its Idempotency-Key), the member view read again after it.

import { call, noFinalAnswer, segment } from "./api.js";
import { clearError, enable, h, say, showError, signed } from "./dom.js";

// The adjustments' reason codes (docs/api.md, Customer service): the API refuses any other.
const REASONS = [
  ["goodwill", "a gesture after a complaint"],
  ["correction", "points the engine should have given or taken"],
  ["fraud", "points taken back from abuse"],
  ["migration", "balances from a previous system"],
  ["other", "say why in the comment"],
];

export function adjustForm(card, { current, reopen }) {
  const form = h(
    "form",
    { id: "adjust-form", class: "stack", "aria-labelledby": "adjust-title" },
    h("label", { for: "adjust-kind" }, "Points"),
    h("select", { id: "adjust-kind" }, h("option", { value: "nq" }, "NQ (spendable)"), h("option", { value: "q" }, "Q (qualifying)")),
    h("label", { for: "adjust-points" }, "Change (signed)"),
    h("input", { id: "adjust-points", type: "number", step: "1", required: true }),
    h("label", { for: "adjust-reason" }, "Reason code"),
    h("select", { id: "adjust-reason", required: true }, REASONS.map(([code, words]) => h("option", { value: code }, `${code}: ${words}`))),
    h("label", { for: "adjust-comment" }, "Comment"),
    h("textarea", { id: "adjust-comment", rows: 2, maxlength: 500 }),
    h("span"),
    h("button", { type: "submit" }, "Adjust points"),
  );
  // The Idempotency-Key of a request that got no answer (network failure, 5xx): the same form
  // sent again is a retry of that request, applied once; any answer, or another form, drops it.
  let unanswered = null;
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return; // a double click or Enter while the first submit is on its way
    clearError();
    const points = Number(document.getElementById("adjust-points").value);
    if (!Number.isInteger(points) || points === 0) {
      showError("Adjust points", { message: "The change must be a whole number other than 0.", code: "validation_error" });
      return;
    }
    const body = {
      kind: document.getElementById("adjust-kind").value,
      points,
      reason_code: document.getElementById("adjust-reason").value.trim(),
      comment: document.getElementById("adjust-comment").value,
    };
    if (body.reason_code === "other" && !body.comment.trim()) {
      // the API refuses it too (422 comment_required): said here, before any request
      showError("Adjust points", { message: "The reason other needs a comment that says why.", code: "comment_required" });
      document.getElementById("adjust-comment").focus();
      return;
    }
    const fingerprint = JSON.stringify(body);
    const key = unanswered && unanswered.fingerprint === fingerprint ? unanswered.key : crypto.randomUUID();
    button.disabled = true;
    let done;
    try {
      done = await call("POST", `/v1/members/${segment(card)}/adjustments`, { body, headers: { "Idempotency-Key": key } });
      unanswered = null;
    } catch (error) {
      unanswered = noFinalAnswer(error) ? { fingerprint, key } : null;
      enable(button);
      // not after sign-out, nor once the agent opened another member (a 401 has signed out)
      if (current() && error.status !== 401) showError("Adjust points", error);
      return;
    }
    const adjusted = `${signed(done.points)} ${done.kind.toUpperCase()} points`;
    const after = `(${done.reason_code}): NQ ${done.balance.nq}, Q ${done.balance.q}.`;
    if (!current()) {
      // the agent opened another member meanwhile (or signed out): they stay where they are
      if (!document.getElementById("app").hidden) say(`Adjusted ${adjusted} of card ${card} ${after}`);
      return;
    }
    await reopen(form); // the form sent drawn empty, what was typed in the others kept
    say(`Adjusted ${adjusted} ${after}`);
  });
  return h("section", { "aria-labelledby": "adjust-title" }, h("h4", { id: "adjust-title" }, "Adjust points"), form);
}
