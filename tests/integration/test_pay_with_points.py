"""Paying with points at a point of sale (seed 004), through the real points API on moto: the
program's rate and acceptor merchant group, the refusals, idempotent replays, reversals that
give the points back with their expiry, a merchant cache that cannot outlive a change of
groups, and the round trips of a payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel.dynamo import client
from tests.integration.conftest import ADMIN, CARD
from tests.support.api import Reply, call
from tests.support.clock import FakeClock
from tests.support.ledger import assert_running_balances
from tests.support.pay_with_points import (
    ACCEPTORS,
    GHOST,
    NO_MERCHANT,
    OTHER_TILL,
    OUTSIDER,
    TILL,
    earn,
    pay,
    payments_world,
    program_body,
    put_merchant,
    reverse,
)


@pytest.fixture
def clock(table) -> FakeClock:
    return payments_world()


@pytest.fixture
def funded(clock: FakeClock) -> FakeClock:
    """1000 NQ points available: one lot, from an order 20 days old (valid one year)."""
    earn("SEED", "100.00", clock.now - timedelta(days=20))
    return clock


def refused(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert (reply.status, (reply.body or {}).get("code")) == (status, code), (reply.status, reply.body)
    return reply.body  # type: ignore[no-any-return]


def available() -> int:
    reply = call("api_get_member", TILL)
    return int(reply.body["balances"]["nq"]["available"])


def ledger() -> list[dict[str, Any]]:
    reply = call("api_get_ledger", TILL, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return reply.body["entries"][::-1]  # type: ignore[no-any-return]


def nq_lots() -> list[tuple[int, datetime | None]]:
    member, _ = default_context().members.load("demo", CARD, [])
    assert member is not None
    return sorted(
        ((lot.points, lot.expires_at) for lot in member.lots if lot.kind == "nq" and lot.points),
        key=lambda part: part[1] or datetime.max.replace(tzinfo=UTC),
    )


# ---------------------------------------------------------------------------------- payments
def test_a_payment_spends_the_amount_at_the_programs_rate_once(funded):
    reply = pay("P-1", "25.00")
    assert reply.status == 201, reply.body
    assert reply.body | {"balances": None} == {
        "payment_id": "P-1",
        "card_code": CARD,
        "program_id": "club",
        "merchant_id": "till-1",
        "amount": "25.00",
        "currency": "EUR",
        "points": 250,
        "balances": None,
    }
    assert reply.body["balances"]["nq"]["available"] == 750
    assert pay("P-1", "25.00").body == reply.body  # a replay: the first answer
    assert pay("P-1", "25").body == reply.body  # the same amount, written otherwise
    refused(pay("P-1", "26.00"), 409, "idempotency_key_reused")
    refused(pay("P-1", "25.00", caller=OTHER_TILL), 409, "idempotency_key_reused")
    assert available() == 750
    entries = ledger()
    assert_running_balances(entries)
    assert [(e["kind"], e["reference"], e["nq"]) for e in entries] == [
        ("earn", "SEED", 1000),
        ("payment", "P-1", -250),
    ]


def test_rounding_down_and_a_payment_worth_no_point(funded):
    assert pay("P-CENTS", "0.19").body["points"] == 1  # 1.9 points: the member pays 1
    refused(pay("P-TINY", "0.09"), 422, "payment_too_small")  # 0.9 point
    assert available() == 999


def test_refusals_name_their_reason_and_change_nothing(funded):
    before = ledger()
    refused(pay("P-X", "10.00", caller=NO_MERCHANT), 403, "merchant_required")
    refused(pay("P-X", "10.00", caller=GHOST), 403, "unknown_merchant")
    body = refused(pay("P-X", "10.00", caller=OUTSIDER), 403, "wrong_merchant_group")
    assert body["details"][0]["required_group"] == ACCEPTORS
    refused(pay("P-X", "10.00", currency="USD"), 422, "currency_mismatch")
    refused(pay("P-X", "10.00", program_id="other"), 422, "program_mismatch")
    body = refused(pay("P-X", "100.10"), 409, "insufficient_points")
    assert body["details"][0]["available"] == 1000
    refused(pay("P-X", "-1.00"), 422, "validation_error")
    refused(pay("P-X", "1.001"), 422, "validation_error")
    refused(reverse("P-NONE", "R-1"), 404, "payment_not_found")
    assert ledger() == before
    # the whole balance pays
    assert pay("P-X", "100.00").body["points"] == 1000
    assert available() == 0


def test_a_program_without_payment_settings_refuses(funded):
    body = program_body()
    del body["payment"]
    assert call("api_put_program", ADMIN, body=body).status == 200
    refused(pay("P-1", "10.00"), 422, "payment_not_configured")
    assert available() == 1000


def test_a_merchant_taken_out_of_the_acceptor_group_is_refused_at_once(funded):
    """Its groups are cached by the container; the payment's write checks them on the merchant
    item, so the change counts from the next payment on."""
    assert pay("P-1", "10.00").status == 201  # the merchant's groups are now cached
    put_merchant("till-1", ["elsewhere"])
    refused(pay("P-2", "10.00"), 403, "wrong_merchant_group")
    put_merchant("till-1", [ACCEPTORS])
    assert pay("P-3", "10.00").status == 201
    assert available() == 800


def test_a_warm_payment_costs_two_round_trips(funded):
    assert pay("P-WARM", "1.00").status == 201  # the program and the merchant are cached now
    calls: list[str] = []
    client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    assert pay("P-COUNTED", "1.00").status == 201
    assert calls == ["Query", "TransactWriteItems"]
    calls.clear()
    assert pay("P-COUNTED", "1.00").status == 201  # a replay
    assert calls == ["Query", "TransactWriteItems", "BatchGetItem"]
    calls.clear()
    assert reverse("P-COUNTED", "R-1").status == 201
    assert calls == ["Query", "BatchGetItem", "TransactWriteItems"]


# --------------------------------------------------------------------------------- reversals
def test_reversals_give_the_points_back_with_their_expiry(clock):
    now = clock.now
    earn("OLD", "10.00", now - timedelta(days=40))  # 100 points, the sooner expiry
    earn("NEW", "100.00", now - timedelta(days=20))  # 1000 points
    (old_points, old_expiry), (new_points, new_expiry) = nq_lots()
    assert (old_points, new_points) == (100, 1000) and old_expiry and new_expiry and old_expiry < new_expiry
    assert pay("P-1", "50.00").body["points"] == 500  # 100 from OLD, 400 from NEW
    assert nq_lots() == [(600, new_expiry)]

    first = reverse("P-1", "R-1", "10.00")
    assert first.status == 201, first.body
    assert first.body | {"balances": None} == {
        "reversal_id": "R-1",
        "payment_id": "P-1",
        "amount": "10.00",
        "payment_reversed_amount": "10.00",
        "points": 100,
        "points_expired": 0,
        "balances": None,
    }
    assert reverse("P-1", "R-1", "10.00").body == first.body  # a replay
    refused(reverse("P-1", "R-1", "11.00"), 409, "idempotency_key_reused")
    body = refused(reverse("P-1", "R-2", "40.01"), 409, "reversal_exceeds_payment")
    assert body["details"][0]["reversible"] == "40.00"
    # the rest: 300 more with NEW's expiry, then OLD's 100 with OLD's expiry
    rest = reverse("P-1", "R-2")
    assert (rest.body["amount"], rest.body["points"], rest.body["payment_reversed_amount"]) == (
        "40.00",
        400,
        "50.00",
    )
    assert sorted(nq_lots(), key=lambda part: (part[1], part[0])) == [
        (100, old_expiry),
        (100, new_expiry),
        (300, new_expiry),
        (600, new_expiry),
    ]
    refused(reverse("P-1", "R-3"), 409, "reversal_exceeds_payment")
    refused(reverse("P-1", "R-3", "0.01"), 409, "reversal_exceeds_payment")
    assert available() == 1100
    entries = ledger()
    assert_running_balances(entries)
    assert [(e["kind"], e["nq"]) for e in entries][-3:] == [
        ("payment", -500),
        ("payment_reversal", 100),
        ("payment_reversal", 400),
    ]


def test_partial_reversals_add_up_to_the_whole_payment(funded):
    assert pay("P-1", "0.35").body["points"] == 3
    back = [reverse("P-1", f"R-{n}", "0.10").body["points"] for n in range(3)]
    back.append(reverse("P-1", "R-LAST").body["points"])  # 0.05 left
    assert back == [0, 1, 1, 1] and sum(back) == 3
    assert available() == 1000


def test_points_whose_lot_expired_meanwhile_do_not_come_back(clock):
    now = clock.now
    earn("OLD", "10.00", now - timedelta(days=330))  # expires in 35 days
    earn("NEW", "100.00", now - timedelta(days=20))
    assert pay("P-1", "30.00").body["points"] == 300  # 100 from OLD, 200 from NEW
    clock.advance(days=40)
    reply = reverse("P-1", "R-1")
    assert (reply.body["points"], reply.body["points_expired"]) == (200, 100), reply.body
    assert available() == 1000


def test_reversal_by_a_merchant_outside_the_acceptor_group_is_refused(funded):
    assert pay("P-1", "10.00").status == 201
    refused(reverse("P-1", "R-1", caller=OUTSIDER), 403, "wrong_merchant_group")
    refused(reverse("P-1", "R-1", caller=NO_MERCHANT), 403, "merchant_required")
    assert reverse("P-1", "R-1", caller=OTHER_TILL).body["points"] == 100
    assert available() == 1000
