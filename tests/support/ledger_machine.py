"""The state machine of test_ledger_stateful.py (see its docstring): steps, invariants, model."""

from __future__ import annotations

import copy
import itertools
import os
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from moto import mock_aws

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import call
from tests.support.aws import create_table
from tests.support.clock import FakeClock
from tests.support.ledger import assert_running_balances
from tests.support.ledger_model import (
    ACTIONS,
    GROUP,
    HOLDING,
    LEDGER_PAGE,
    MAX_BALANCE,
    NQ_PER_EUR,
    PROGRAM,
    Q_PER_EUR,
    ModelLot,
    ModelOrder,
    floor,
    iso,
    one_year_after,
)


class LedgerMachine(RuleBasedStateMachine):
    client: Any = None  # one boto3 client for all examples: building one takes ~0.3 s

    def __init__(self) -> None:
        super().__init__()
        self._aws = mock_aws()
        self._aws.start()  # resets moto: every example starts from an empty account
        try:
            create_table(self.client, os.environ["TABLE_NAME"])
            context = default_context()  # built once per run (see the test below): keeps its client
            context.forget_program(GROUP, PROGRAM)
            self.clock = FakeClock()
            context.clock = self.clock
            assert call("api_put_program", ADMIN).status == 201
            assert call("api_enrol_member", SHOP).status == 201
        except BaseException:
            self._aws.stop()
            raise
        self.lots: list[ModelLot] = []
        self.orders: dict[str, ModelOrder] = {}
        self.burns: dict[str, tuple[dict[str, Any], tuple[int, Any]]] = {}
        self.returns: dict[tuple[str, str], tuple[dict[str, Any], tuple[int, Any]]] = {}
        self.entries = 0  # ledger entries the model expects
        self.ids = itertools.count(1)

    def teardown(self) -> None:
        self._aws.stop()

    # --- the model -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now

    def points(self, kind: str) -> int:
        """Available, pending and expired but not yet written off: what the ledger adds up to."""
        return sum(lot.points for lot in self.lots if lot.kind == kind)

    def available(self, kind: str) -> int:
        now = self.now
        return sum(lot.points for lot in self.lots if lot.kind == kind and lot.spendable(now))

    def pending(self, kind: str) -> int:
        now = self.now
        return sum(
            lot.points
            for lot in self.lots
            if lot.kind == kind and now < lot.available_at and not lot.expired(now)
        )

    def balances(self) -> dict[str, Any]:
        now = self.now
        upcoming = [lot for lot in self.lots if lot.kind == "nq" and not lot.expired(now)]
        next_expiry = None
        if upcoming:
            at = min(lot.expires_at for lot in upcoming)
            next_expiry = {
                "points": sum(lot.points for lot in upcoming if lot.expires_at == at),
                "at": iso(at),
            }
        return {
            "nq": {
                "available": self.available("nq"),
                "pending": self.pending("nq"),
                "next_expiry": next_expiry,
            },
            "q": {"valid": self.available("q"), "pending": self.pending("q")},
        }

    def expire(self) -> None:
        """What every write does first: remove what is left of expired lots, as one entry."""
        due = [lot for lot in self.lots if lot.expired(self.now)]
        if due:
            self.entries += 1
            self.lots = [lot for lot in self.lots if not lot.expired(self.now)]

    def take(self, lots: list[ModelLot], wanted: int) -> int:
        """Debit up to `wanted` points from `lots`, in that order; returns what was taken."""
        got = 0
        for lot in lots:
            part = min(lot.points, wanted - got)
            lot.points -= part
            got += part
        self.lots = [lot for lot in self.lots if lot.points > 0]
        return got

    @staticmethod
    def spend_order(lot: ModelLot) -> tuple:
        """Soonest-expiring first; then the oldest."""
        return (lot.expires_at, lot.available_at, lot.seq)

    # --- server helpers ------------------------------------------------------------------------

    def new_key(self, prefix: str) -> str:
        return f"{prefix}-{next(self.ids)}"

    def ledger(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        query = {"limit": LEDGER_PAGE}
        while True:
            page = call("api_get_ledger", SHOP, query=query)
            assert page.status == 200, page.body
            entries.extend(page.body["entries"])
            if not page.body["next_cursor"]:
                return entries[::-1]  # oldest first
            query = {"limit": LEDGER_PAGE, "cursor": page.body["next_cursor"]}

    def earn_call(self, body: dict[str, Any]):
        return call("api_earn_order", SHOP, body=body)

    def burn_call(self, body: dict[str, Any], key: str | None):
        return call("api_burn_points", SHOP, body=body, headers={"Idempotency-Key": key} if key else None)

    def return_call(self, order_id: str, body: dict[str, Any]):
        return call("api_return_order", SHOP, path={"order_id": order_id}, body=body)

    # --- steps ---------------------------------------------------------------------------------

    @initialize(cents=st.integers(1_000, 30_000), minutes_ago=st.integers(15 * 24 * 60, 30 * 24 * 60))
    def first_order(self, cents: int, minutes_ago: int) -> None:
        """Every example starts with points that are available at once."""
        self.earn_order(cents, minutes_ago)

    @rule(data=st.data())
    def step(self, data) -> None:
        """One action, drawn with fixed weights. (Separate rules would be subject to Hypothesis's
        swarm testing, which switches whole rules off in many examples: too costly with the few
        examples that moto allows here.)"""
        getattr(self, data.draw(st.sampled_from(ACTIONS), label="action"))(data)

    def earn(self, data) -> None:
        """A new order: a random amount, ordered lately (pending for two weeks) or 15 to 30 days ago."""
        cents = data.draw(st.one_of(st.integers(100, 30_000), st.integers(0, 99)), label="cents")
        minutes_ago = data.draw(
            st.one_of(st.integers(0, 72 * 60), st.integers(15 * 24 * 60, 30 * 24 * 60)), label="minutes_ago"
        )
        self.earn_order(cents, minutes_ago)

    def earn_order(self, cents: int, minutes_ago: int) -> None:
        order_id = self.new_key("O")
        amount = Decimal(cents) / 100
        ordered_at = self.now - timedelta(minutes=minutes_ago)
        body = order_body(order_id=order_id, amount=f"{amount:.2f}", ordered_at=iso(ordered_at), lines=[])
        reply = self.earn_call(body)
        assert reply.status == 201, reply.body

        self.expire()
        nq, q = floor(amount * NQ_PER_EUR), floor(amount * Q_PER_EUR)
        room = max(0, MAX_BALANCE - self.points("nq"))
        credited = min(nq, room)
        seq = next(self.ids)
        expires_at = one_year_after(ordered_at)
        for kind, points, available_at in (("nq", credited, ordered_at + HOLDING), ("q", q, ordered_at)):
            if points:
                self.lots.append(ModelLot(order_id, kind, points, available_at, expires_at, seq))
        self.entries += 1
        self.expire()  # an order so old that its points are already expired (not with these dates)

        assert reply.body["earned"] == {
            "nq": credited,
            "q": q,
            "nq_not_credited": nq - credited,
            "nq_available_at": iso(ordered_at + HOLDING),
        }
        assert reply.body["balances"] == self.balances()
        self.orders[order_id] = ModelOrder(body, (reply.status, reply.body), amount, credited, q, expires_at)

    def replay(self, data) -> None:
        """Send an earlier write again: the same answer and no effect. Then its key with another
        body: 409 idempotency_key_reused and no effect either (the invariants check both)."""
        known = [("order", self.orders), ("burn", self.burns), ("return", self.returns)]
        kind = data.draw(st.sampled_from([kind for kind, writes in known if writes]), label="replay")
        other = data.draw(st.integers(1, 3_000), label="other")
        if kind == "order":
            order = self.orders[data.draw(st.sampled_from(sorted(self.orders)))]
            reply = self.earn_call(order.body)
            assert (reply.status, reply.body) == order.answer
            amount = Decimal(other) / 100
            if amount == order.amount:
                amount += Decimal("0.01")
            reused = self.earn_call({**order.body, "amount": f"{amount:.2f}"})
        elif kind == "burn":
            burn_id = data.draw(st.sampled_from(sorted(self.burns)))
            request, answer = self.burns[burn_id]
            key = burn_id if request["by_header"] else None
            reply = self.burn_call(request["body"], key)
            assert (reply.status, reply.body) == answer
            points = other if other != request["body"]["points"] else other + 1
            reused = self.burn_call({**request["body"], "points": points}, key)
        else:
            order_id, return_id = data.draw(st.sampled_from(sorted(self.returns)))
            body, answer = self.returns[(order_id, return_id)]
            reply = self.return_call(order_id, body)
            assert (reply.status, reply.body) == answer
            amount = Decimal(other) / 100
            if body.get("amount") == f"{amount:.2f}":
                amount += Decimal("0.01")
            reused = self.return_call(order_id, {**body, "amount": f"{amount:.2f}"})
        assert reused.status == 409, reused.body
        assert reused.body["code"] == "idempotency_key_reused"

    def burn(self, data) -> None:
        """Burn random points, or exactly what is available, or one more: by burn_id or Idempotency-Key."""
        points = data.draw(
            st.one_of(st.integers(1, 3_000), st.integers(1, 200), st.sampled_from(["all", "one more"])),
            label="points",
        )
        by_header = data.draw(st.booleans(), label="by_header")
        self.burn_points(points, by_header)

    def burn_points(self, points: int | str, by_header: bool) -> None:
        if points == "all":  # exactly what is available: the boundary
            points = max(1, self.available("nq"))
        elif points == "one more":
            points = self.available("nq") + 1
        assert isinstance(points, int)
        burn_id = self.new_key("B")
        body: dict[str, Any] = {"points": points, "reason": "voucher"}
        if not by_header:
            body["burn_id"] = burn_id
        reply = self.burn_call(body, burn_id if by_header else None)
        have = self.available("nq")
        if points > have:
            assert reply.status == 409, reply.body
            assert reply.body["code"] == "insufficient_points"
            assert reply.body["details"][0]["available"] == have
            return
        assert reply.status == 201, reply.body
        self.expire()
        spendable = sorted(
            (lot for lot in self.lots if lot.kind == "nq" and lot.spendable(self.now)), key=self.spend_order
        )
        assert self.take(spendable, points) == points
        self.entries += 1
        assert reply.body == {
            "burn_id": burn_id,
            "card_code": CARD,
            "points": points,
            "balances": self.balances(),
        }
        self.burns[burn_id] = ({"body": body, "by_header": by_header}, (reply.status, reply.body))

    def return_order(self, data) -> None:
        """Return the rest of an earlier order, a share of it, or more than is left (422)."""
        order_id = data.draw(st.sampled_from(sorted(self.orders)), label="order_id")
        whole = data.draw(st.booleans(), label="whole")
        share = data.draw(st.integers(1, 1_000), label="per_mille")
        self.return_part(order_id, whole, share)

    def return_part(self, order_id: str, whole: bool, share: int) -> None:
        """Return all that is left (whole), else share/1000 of it; share 1000 asks for more than is left."""
        order = self.orders[order_id]
        return_id = self.new_key("R")
        rest = order.amount - order.returned
        body: dict[str, Any] = {"return_id": return_id}
        if not whole:
            # a share of what is left (in cents); past 1000 per mille: more than is left
            cents = (
                max(1, int(rest * 100) * share // 1000) if share < 1_000 else int(rest * 100) + share % 3 + 1
            )
            body["amount"] = f"{Decimal(cents) / 100:.2f}"
        amount = Decimal(body["amount"]) if "amount" in body else rest
        reply = self.return_call(order_id, body)
        if amount <= 0 or amount > rest:
            assert reply.status == 422, reply.body
            assert reply.body["code"] == "return_exceeds_order"
            return
        assert reply.status == 201, reply.body
        answer = (reply.status, copy.deepcopy(reply.body))

        after = order.returned + amount
        wanted = {
            "nq": min(order.nq_earned, floor(order.nq_earned * after / order.amount)) - order.nq_reversed,
            "q": min(order.q_earned, floor(order.q_earned * after / order.amount)) - order.q_reversed,
        }
        self.expire()
        got = {}
        for kind in ("nq", "q"):
            own = [lot for lot in self.lots if lot.kind == kind and lot.order_id == order_id]
            others = sorted(
                (lot for lot in self.lots if lot.kind == kind and lot.order_id != order_id),
                key=self.spend_order,
            )
            if order.expires_at is not None and order.expires_at <= self.clock.now:
                others = []  # what the order's lot lost to expiry is not taken again from others
            got[kind] = self.take(own + others, wanted[kind]) if wanted[kind] > 0 else 0
        self.entries += 1
        assert Decimal(reply.body.pop("amount")) == amount
        assert Decimal(reply.body.pop("order_returned_amount")) == after
        assert reply.body == {
            "return_id": return_id,
            "order_id": order_id,
            "reversed": {
                "nq": got["nq"],
                "q": got["q"],
                "unrecovered": wanted["nq"] - got["nq"] + wanted["q"] - got["q"],
            },
            "balances": self.balances(),
        }, (order, wanted)
        order.returned = after
        order.nq_reversed += wanted["nq"]
        order.q_reversed += wanted["q"]
        self.returns[(order_id, return_id)] = (body, answer)

    def advance_clock(self, data) -> None:
        """Move the clock by hours or days, or to a second around the next end of holding or expiry."""
        move = data.draw(
            st.one_of(
                st.integers(1, 48),  # hours: within the holding period
                st.integers(1, 30).map(lambda days: 24 * days),  # past it
                st.integers(330, 400).map(lambda days: 24 * days),  # around the 1-year validity
                st.sampled_from(["available_at", "expires_at"]),  # the next such moment of a lot
            ),
            label="move",
        )
        if isinstance(move, int):
            self.clock.advance(hours=move)
            return
        upcoming = [getattr(lot, move) for lot in self.lots if getattr(lot, move) > self.now]
        if upcoming:
            offset = data.draw(st.sampled_from([-1, 0, 1]), label="seconds")
            self.clock.now = max(self.now, min(upcoming) + timedelta(seconds=offset))

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def member_balances_match_the_model(self) -> None:
        reply = call("api_get_member", SHOP)
        assert reply.status == 200, reply.body
        assert reply.body["balances"] == self.balances()

    @invariant()
    def stored_lots_match_the_model_and_are_positive(self) -> None:
        member, _ = default_context().members.load(GROUP, CARD, [])
        assert member is not None
        assert all(lot.points > 0 for lot in member.lots), member.lots
        stored = {(lot.kind, lot.order_id): lot.points for lot in member.lots}
        assert len(stored) == len(member.lots)
        assert stored == {(lot.kind, lot.order_id): lot.points for lot in self.lots}

    @invariant()
    def ledger_adds_up_and_has_one_entry_per_key(self) -> None:
        entries = self.ledger()
        assert len(entries) == self.entries
        running = assert_running_balances(entries)
        # available + pending + expired but not yet written off
        assert running == {"nq": self.points("nq"), "q": self.points("q")}
        references = Counter(entry["reference"] for entry in entries if entry["kind"] != "expire")
        expected = Counter(
            [*self.orders, *self.burns, *(f"{order_id}/{return_id}" for order_id, return_id in self.returns)]
        )
        assert references == expected
        kinds = Counter(entry["kind"] for entry in entries)
        assert kinds["earn"] == len(self.orders)
        assert kinds["burn"] == len(self.burns)
        assert kinds["return"] == len(self.returns)
