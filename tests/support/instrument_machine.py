"""The state machine of test_instruments_stateful.py (see its docstring): its rules, invariants
and the final check of the whole ledger."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.instrument import Instrument, RedemptionRecord
from loyalty_engine.kernel import keys
from tests.support.api import Reply, call
from tests.support.clock import FakeClock
from tests.support.instrument_model import (
    CENT,
    MAX_VALUE,
    MIN_VALUE,
    VALIDITY,
    WRONG_GROUP_SOMETIMES,
    Done,
    Model,
    ModelRedemption,
    Stored,
    cancel,
    decimal_or_none,
    fresh_card,
    money,
    send,
)
from tests.support.instruments import (
    GROUP,
    OUTLET,
    POS,
    ok,
    redeem,
    reverse,
    sell,
)


class InstrumentMachine(RuleBasedStateMachine):
    examples = itertools.count()  # card and key names unique over the whole run

    def __init__(self) -> None:
        super().__init__()
        self.tag = f"X{next(self.examples)}"
        self.clock = FakeClock()
        instrument_services().clock = self.clock
        self.number = fresh_card()
        self.model = Model()
        self.done: list[Done] = []
        self.ids = itertools.count(1)
        self.before = self.stored()  # as last read: what a refused or replayed request must leave
        self.unchanged = False  # the last request was refused or replayed
        self.sent = False  # a request was sent since the state was last read
        self.sold_again = 0
        self.cancellations = 0

    def new_key(self, kind: str) -> str:
        return f"{self.tag}-{kind}-{next(self.ids)}"

    # --- reading the stored state -------------------------------------------------------------

    def stored(self) -> Stored:
        """The instrument and its redemption records: two or three reads (moto takes milliseconds per item
        it returns and per item of the partition it queries; the ledger is read in teardown)."""
        svc = instrument_services()
        pk = keys.instrument_pk(GROUP, self.number)
        # the live item once the card has moved, else the one its batch wrote
        values = svc.instruments.get(pk, keys.INSTRUMENT_SK) or svc.instruments.get(
            pk, keys.ISSUED_INSTRUMENT_SK
        )
        assert values is not None
        records = {
            record.redemption_id: record
            for record in (
                RedemptionRecord.model_validate({k: v for k, v in found.items() if k != "answer"})
                for found in svc.instruments.query(pk, keys.redemption_sk(""))
            )
        }
        return Stored(Instrument.model_validate(values), records)

    def expect_refusal(self, reply: Reply, status: int, code: str) -> None:
        assert (reply.status, (reply.body or {}).get("code")) == (status, code), (reply.status, reply.body)
        self.unchanged = self.sent = True

    def expect_movement(self, reply: Reply, kind: str, key: str, amount: Decimal) -> None:
        assert reply.status == 201, (kind, reply.body)
        self.sent = True
        entry = reply.body["entry"]
        assert (entry["kind"], entry["reference"], Decimal(entry["amount"])) == (kind, key, amount)
        self.model.entries.append((kind, amount))
        assert entry["entry_no"] == 1 + len(self.model.entries)
        assert decimal_or_none(entry["balance_after"]) == self.model.balance
        assert entry["status_after"] == self.model.status
        view = reply.body["instrument"]
        assert decimal_or_none(view["balance"]) == self.model.balance
        assert view["status"] == self.model.status_at(self.clock.now)

    # --- rules --------------------------------------------------------------------------------

    @initialize(sell_first=st.integers(0, 7), cents=st.integers(500, 50_000))
    def start(self, sell_first: int, cents: int) -> None:
        """Most examples start with the card sold (the others with it still unsold)."""
        if sell_first:
            self.activate(cents, False)

    @precondition(lambda self: self.model.status == "issued" or self.sold_again < 2)
    @rule(
        cents=st.one_of(
            st.integers(500, 50_000), st.integers(1, 499), st.integers(50_001, 60_000), st.none()
        ),
        wrong_group=WRONG_GROUP_SOMETIMES,
    )
    def activate(self, cents: int | None, wrong_group: bool) -> None:
        value = None if cents is None else money(cents)
        key = self.new_key("A")
        caller = OUTLET if wrong_group else POS
        reply = sell(self.number, value, key, caller=caller)
        m, now = self.model, self.clock.now
        if wrong_group:
            return self.expect_refusal(reply, 403, "wrong_merchant_group")
        if m.status_at(now) == "expired":
            return self.expect_refusal(reply, 409, "expired")
        if m.status == "cancelled":
            return self.expect_refusal(reply, 409, "cancelled")
        if m.status != "issued":
            self.sold_again += 1  # (twice per example is enough)
            return self.expect_refusal(reply, 409, "already_active")
        if value is None or not MIN_VALUE <= Decimal(value) <= MAX_VALUE:
            return self.expect_refusal(reply, 422, "invalid_value")
        m.status, m.balance, m.activated = "active", Decimal(value), Decimal(value)
        m.valid_until = now + VALIDITY
        self.expect_movement(reply, "activation", key, Decimal(value))
        assert datetime.fromisoformat(reply.body["instrument"]["valid_until"]) == m.valid_until
        self.done.append(
            Done("activation", key, {"number": self.number, "value": value, "caller": caller}, reply)
        )
        return None

    @rule(
        share=st.one_of(st.integers(1, 100), st.sampled_from(["all", "over"])),
        wrong_group=WRONG_GROUP_SOMETIMES,
    )
    def pay_share(self, share: int | str, wrong_group: bool) -> None:
        """A share (percent) of the balance, all of it, or a cent more."""
        balance = int((self.model.balance or 0) * 100)
        if isinstance(share, int):
            self.pay(max(1, balance * share // 100), wrong_group)
        else:
            self.pay(max(balance, 1) if share == "all" else balance + 1, wrong_group)

    @rule(cents=st.integers(1, 20_000), wrong_group=WRONG_GROUP_SOMETIMES)
    def pay(self, cents: int, wrong_group: bool) -> None:
        m, now = self.model, self.clock.now
        amount = Decimal(money(cents))
        key = self.new_key("P")
        caller = OUTLET if wrong_group else POS
        reply = redeem(self.number, key, str(amount), caller=caller)
        status = m.status_at(now)
        if wrong_group:
            return self.expect_refusal(reply, 403, "wrong_merchant_group")
        if status == "expired":
            return self.expect_refusal(reply, 409, "expired")
        if status == "cancelled":
            return self.expect_refusal(reply, 409, "cancelled")
        if status == "issued":
            return self.expect_refusal(reply, 409, "not_active")
        if status == "redeemed" or amount > (m.balance or 0):
            return self.expect_refusal(reply, 409, "insufficient_balance")
        assert m.balance is not None
        m.balance -= amount
        m.status = "redeemed" if m.balance == 0 else "active"
        m.redemptions[key] = ModelRedemption(amount)
        self.expect_movement(reply, "redemption", key, -amount)
        self.done.append(
            Done("redemption", key, {"number": self.number, "amount": str(amount), "caller": caller}, reply)
        )
        return None

    @precondition(lambda self: self.model.redemptions)
    @rule(
        pick=st.integers(0, 1_000),
        never_made=st.integers(0, 9).map(lambda n: n == 3),
        share=st.one_of(st.none(), st.integers(1, 100), st.sampled_from(["rest", "over"])),
        wrong_group=WRONG_GROUP_SOMETIMES,
    )
    def refund(self, pick: int, never_made: bool, share: int | str | None, wrong_group: bool) -> None:
        """Refund a payment (or one never made): what is left of it (no amount, or the amount), a
        share of it, or a cent too much."""
        m = self.model
        redemption_id = list(m.redemptions)[pick % len(m.redemptions)]
        original = m.redemptions[redemption_id]
        if never_made:
            redemption_id = f"{self.tag}-NEVER"
        left = original.amount - original.reversed
        if share is None:
            amount = None
        elif share == "rest":
            amount = left
        elif share == "over":
            amount = left + CENT
        else:
            assert isinstance(share, int)
            amount = max(CENT, (left * share / 100).quantize(CENT))
        key = self.new_key("R")
        caller = OUTLET if wrong_group else POS
        reply = reverse(
            self.number, redemption_id, key, None if amount is None else str(amount), caller=caller
        )
        if amount is not None and amount <= 0:  # the rest of a payment already refunded in full
            return self.expect_refusal(reply, 422, "validation_error")
        if never_made:
            return self.expect_refusal(reply, 404, "redemption_not_found")
        if wrong_group:
            return self.expect_refusal(reply, 403, "wrong_merchant_group")
        if m.status == "cancelled":
            return self.expect_refusal(reply, 409, "cancelled")
        if m.valid_until is not None and self.clock.now >= m.valid_until:
            return self.expect_refusal(reply, 409, "expired")  # spent to zero or not
        refunded = left if amount is None else amount
        if refunded <= 0 or refunded > left:
            return self.expect_refusal(reply, 409, "reversal_exceeds_redemption")
        assert m.balance is not None
        m.balance += refunded
        m.status = "active" if m.status == "redeemed" else m.status
        original.reversed += refunded
        self.expect_movement(reply, "reversal", key, refunded)
        assert reply.body["entry"]["reverses"] == redemption_id
        args = {
            "number": self.number,
            "redemption_id": redemption_id,
            "amount": None if amount is None else str(amount),
            "caller": caller,
        }
        self.done.append(Done("reversal", key, args, reply))
        return None

    @precondition(lambda self: self.cancellations < 2)
    @rule(really=st.integers(0, 3).map(lambda n: n == 2))
    def cancel(self, really: bool) -> None:
        """The back office cancels the card (1 time in 4 that this rule is drawn, at most twice
        an example): the balance stays; a second cancellation is refused."""
        if not really:
            return
        self.cancellations += 1
        key, reason = self.new_key("C"), f"reported lost ({self.cancellations})"
        reply = cancel(self.number, key, reason)
        m = self.model
        if m.status == "cancelled":
            return self.expect_refusal(reply, 409, "cancelled")
        m.status = "cancelled"
        self.expect_movement(reply, "cancellation", key, Decimal(0))
        assert reply.body["entry"]["reason"] == reason
        self.done.append(Done("cancellation", key, {"number": self.number, "reason": reason}, reply))
        return None

    @precondition(lambda self: self.done)
    @rule(pick=st.integers(0, 1_000), change=st.sampled_from(["none", "none", "amount", "merchant"]))
    def again(self, pick: int, change: str) -> None:
        """An answered request again: the same (the first answer, nothing moves), or its key with
        another amount or from another merchant (refused: idempotency_key_reused)."""
        done = self.done[pick % len(self.done)]
        if change == "none":
            reply = send(done)
            assert (reply.status, reply.body) == (done.reply.status, done.reply.body)
            self.unchanged = self.sent = True
            return
        if done.kind == "cancellation":
            reply = send(done, reason=done.args["reason"] + " again")
        elif change == "merchant":
            reply = send(done, caller=OUTLET if done.args["caller"] is POS else POS)
        elif done.kind == "activation":
            reply = send(done, value="6.00" if done.args["value"] != "6.00" else "7.00")
        else:
            reply = send(done, amount="0.01" if done.args["amount"] != "0.01" else "0.02")
        self.expect_refusal(reply, 409, "idempotency_key_reused")

    @rule(hours=st.integers(1, 10 * 24), to_expiry=st.integers(0, 7))
    def wait(self, hours: int, to_expiry: int) -> None:
        """Hours pass, or (1 time in 4) the clock moves to the second of expiry or the one
        before: a lookup shows the status at the new time."""
        valid_until = self.model.valid_until
        if to_expiry in (3, 4) and valid_until is not None and self.clock.now < valid_until:
            self.clock.now = valid_until - timedelta(seconds=to_expiry - 3)
        else:
            self.clock.advance(hours=hours)
        view = ok(call("api_lookup_instrument", POS, path={"number": self.number}), 200)
        assert view["status"] == self.model.status_at(self.clock.now)
        assert view["balance"] == (None if self.model.balance is None else str(self.model.balance))

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def stored_state_matches_the_model(self) -> None:
        if not self.sent:  # (after a wait) the state read after the last request stands
            return
        m = self.model
        now = self.stored()
        if self.unchanged:
            assert now == self.before, "a refused or replayed request changed the instrument"
            self.unchanged = False
        instrument = now.instrument
        assert (instrument.status, instrument.balance) == (m.status, m.balance)
        assert instrument.balance is None or instrument.balance >= 0
        assert instrument.version == 1 + len(m.entries)
        redeemed = -sum((amount for kind, amount in m.entries if kind == "redemption"), Decimal(0))
        refunded = sum((amount for kind, amount in m.entries if kind == "reversal"), Decimal(0))
        assert redeemed <= m.activated + refunded
        assert set(now.records) == set(m.redemptions)
        for redemption_id, expected in m.redemptions.items():
            record = now.records[redemption_id]
            assert (record.amount, record.reversed) == (expected.amount, expected.reversed)
            assert record.reversed <= record.amount
        self.before, self.sent = now, False

    def teardown(self) -> None:
        """The whole ledger, once: consecutive entries adding up to the balance, one per answer."""
        entries, cursor = instrument_services().instruments.ledger_page(GROUP, self.number, 200, None)
        assert cursor is None
        entries.reverse()
        assert [(entry.kind, entry.amount) for entry in entries] == self.model.entries
        assert [entry.entry_no for entry in entries] == list(range(2, 2 + len(entries)))
        running: Decimal | None = None  # no balance until the card is sold
        for entry in entries:
            if entry.kind != "cancellation" or running is not None:
                running = (running or Decimal(0)) + entry.amount
            assert entry.balance_after == running
            assert running is None or running >= 0
        assert self.before.instrument.balance == running
        assert sorted(entry.reference for entry in entries) == sorted(done.key for done in self.done)
