"""Earn, burn, return and read through the real API handler on moto."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import call


def test_earn_credits_points_with_tier_multiplier_and_holding(member, clock):
    reply = call("api_earn_order", SHOP)
    assert reply.status == 201, reply.body
    # 129.90 EUR x 10 points/EUR x tier 1 multiplier (1) = 1299 NQ; Q: 129 (rate 1, rounded down)
    assert reply.body["earned"] == {
        "nq": 1299,
        "q": 129,
        "nq_not_credited": 0,
        "nq_available_at": "2026-12-04T14:04:05Z",  # 14 days holding from ordered_at (GMT+1)
    }
    # ordered on 2026-11-20 15:04+01:00; the clock says 2026-12-10: the holding period has passed
    assert reply.body["balances"]["nq"]["available"] == 1299
    assert reply.body["balances"]["nq"]["pending"] == 0
    assert reply.body["balances"]["q"]["valid"] == 129


def test_points_are_pending_during_the_holding_period(member, clock):
    body = order_body(order_id="WEB-2", ordered_at="2026-12-09T10:00:00+01:00")
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201
    assert reply.body["balances"]["nq"] == {
        "available": 0,
        "pending": 1299,
        "next_expiry": {"points": 1299, "at": "2027-12-09T09:00:00Z"},
    }
    refused = call("api_burn_points", SHOP, body={"points": 1})
    assert refused.status == 409
    assert refused.body["code"] == "insufficient_points"
    clock.advance(days=14)
    assert call("api_burn_points", SHOP, body={"points": 1}).status == 201


def test_duplicate_order_returns_the_same_answer_once(member):
    first = call("api_earn_order", SHOP)
    again = call("api_earn_order", SHOP)
    assert (again.status, again.body) == (first.status, first.body)
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 1299
    ledger = call("api_get_ledger", SHOP).body["entries"]
    assert [e["kind"] for e in ledger] == ["earn"]


def test_same_order_id_with_another_body_is_a_conflict(member):
    call("api_earn_order", SHOP)
    reply = call("api_earn_order", SHOP, body=order_body(amount="10.00"))
    assert reply.status == 409
    assert reply.body["code"] == "idempotency_key_reused"
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 1299


def test_burn_uses_idempotency_key_header(member):
    call("api_earn_order", SHOP)
    first = call("api_burn_points", SHOP)  # 500 points, Idempotency-Key: burn-7f3a
    again = call("api_burn_points", SHOP)
    assert first.status == again.status == 201
    assert first.body == again.body
    assert first.body["balances"]["nq"]["available"] == 799
    other = call("api_burn_points", SHOP, body={"points": 10})
    assert other.status == 409 and other.body["code"] == "idempotency_key_reused"


def test_burn_without_any_key_is_refused(member):
    call("api_earn_order", SHOP)
    reply = call("api_burn_points", SHOP, headers={"Idempotency-Key": ""}, body={"points": 5})
    assert reply.status == 422
    assert reply.body["code"] in {"idempotency_key_required", "validation_error"}


def test_burn_beyond_balance_changes_nothing(member):
    call("api_earn_order", SHOP)
    reply = call("api_burn_points", SHOP, body={"points": 5000, "burn_id": "B-1"})
    assert reply.status == 409
    assert reply.body["code"] == "insufficient_points"
    assert reply.body["details"][0]["available"] == 1299
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 1299


def test_partial_then_full_return_reverses_exactly_what_was_earned(member):
    call("api_earn_order", SHOP)
    partial = call("api_return_order", SHOP)  # 30.00 of 129.90
    assert partial.status == 201, partial.body
    # floor(1299 x 30 / 129.9) = 300 NQ; floor(129 x 30 / 129.9) = 29 Q
    assert partial.body["reversed"] == {"nq": 300, "q": 29, "unrecovered": 0}
    assert partial.body["order_returned_amount"] == "30.00"
    rest = call("api_return_order", SHOP, body={"return_id": "RET-2"})
    assert rest.status == 201
    assert rest.body["reversed"] == {"nq": 999, "q": 100, "unrecovered": 0}
    balances = call("api_get_member", SHOP).body["balances"]
    assert balances["nq"]["available"] == 0 and balances["q"]["valid"] == 0
    over = call("api_return_order", SHOP, body={"return_id": "RET-3", "amount": "1"})
    assert over.status == 422 and over.body["code"] == "return_exceeds_order"


def test_return_after_spending_records_unrecovered_points(member):
    call("api_earn_order", SHOP)
    call("api_burn_points", SHOP, body={"points": 1200, "burn_id": "B-1"})
    reply = call("api_return_order", SHOP, body={"return_id": "R-all"})
    assert reply.status == 201
    assert reply.body["reversed"] == {"nq": 99, "q": 129, "unrecovered": 1200}
    assert reply.body["balances"]["nq"]["available"] == 0


def test_return_of_unknown_order_is_404(member):
    reply = call("api_return_order", SHOP, path={"order_id": "NOPE"})
    assert reply.status == 404 and reply.body["code"] == "order_not_found"


def test_max_balance_caps_credit_and_says_so(member, program):
    spec = {
        k: v for k, v in program.items() if k not in {"program_id", "created_at", "updated_at", "version"}
    }
    spec["nq_points"] = {**spec["nq_points"], "max_balance": 2000}
    assert call("api_put_program", ADMIN, body=spec).status == 200
    call("api_earn_order", SHOP)  # 1299
    reply = call("api_earn_order", SHOP, body=order_body(order_id="WEB-2"))
    assert reply.body["earned"]["nq"] == 701
    assert reply.body["earned"]["nq_not_credited"] == 598
    entry = call("api_get_ledger", SHOP).body["entries"][0]
    assert entry["not_credited"] == 598 and entry["nq_balance"] == 2000


def test_ledger_is_paged_newest_first(member):
    for n in range(5):
        call("api_earn_order", SHOP, body=order_body(order_id=f"O-{n}", amount="1.00"))
    first = call("api_get_ledger", SHOP, query={"limit": "2"})
    assert [e["reference"] for e in first.body["entries"]] == ["O-4", "O-3"]
    second = call("api_get_ledger", SHOP, query={"limit": "2", "cursor": first.body["next_cursor"]})
    assert [e["reference"] for e in second.body["entries"]] == ["O-2", "O-1"]
    bad = call("api_get_ledger", SHOP, query={"cursor": "Zm9v"})
    assert bad.status == 422 and bad.body["code"] == "invalid_cursor"


def test_expired_points_leave_the_balance_on_the_next_write(member, clock):
    call("api_earn_order", SHOP)
    clock.advance(days=366)
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 0
    call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id="LATE", amount="1.00", ordered_at=clock.now.isoformat()),
    )
    kinds = [e["kind"] for e in call("api_get_ledger", SHOP).body["entries"]]
    assert kinds == ["earn", "expire", "earn"]


def test_order_in_another_currency_is_refused(member):
    reply = call("api_earn_order", SHOP, body=order_body(currency="USD"))
    assert reply.status == 422 and reply.body["code"] == "currency_mismatch"


def test_unknown_member_is_404(program):
    reply = call("api_earn_order", SHOP, path={"card_code": "NOBODY-1"})
    assert reply.status == 404 and reply.body["code"] == "member_not_found"
    assert CARD


def test_return_after_the_orders_points_expired_takes_nothing_from_other_orders(member, clock):
    call("api_earn_order", SHOP)  # A: 1299 NQ, valid one year
    clock.advance(days=400)
    later = order_body(order_id="B", ordered_at=clock.now.isoformat())
    assert call("api_earn_order", SHOP, body=later).body["earned"]["nq"] == 1299
    reply = call("api_return_order", SHOP, body={"return_id": "R-A"})
    assert reply.status == 201
    # A's points expired already (an `expire` entry took them): B's stay
    assert reply.body["reversed"] == {"nq": 0, "q": 0, "unrecovered": 1299 + 129}
    clock.advance(days=14)
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 1299


def test_the_same_amount_spelled_differently_is_the_same_order(member):
    first = call("api_earn_order", SHOP, body=order_body(amount="129.90"))
    again = call("api_earn_order", SHOP, body=order_body(amount="129.9"))
    assert (again.status, again.body) == (first.status, first.body)


def test_points_that_never_expire_are_kept_as_one_lot(member, program, clock):
    from loyalty_engine.handlers.api_context import default_context

    spec = {
        k: v for k, v in program.items() if k not in {"program_id", "created_at", "updated_at", "version"}
    }
    spec["nq_points"] = {**spec["nq_points"], "validity": None, "holding_period": None}
    spec["q_points"] = {**spec["q_points"], "validity": None}
    assert call("api_put_program", ADMIN, body=spec).status == 200
    for n in range(5):
        call("api_earn_order", SHOP, body=order_body(order_id=f"O-{n}", amount="1.00"))
    stored, _ = default_context().members.load("demo", CARD, [])
    assert stored is not None
    assert sorted((lot.kind, lot.points) for lot in stored.lots) == [("nq", 50), ("q", 5)]
    assert call("api_burn_points", SHOP, body={"points": 50, "burn_id": "all"}).status == 201
    back = call("api_return_order", SHOP, path={"order_id": "O-4"}, body={"return_id": "r"})
    assert back.body["reversed"] == {"nq": 0, "q": 1, "unrecovered": 10}


def test_validity_and_holding_count_in_the_programs_wall_time(member, program, clock):
    """Dates are GMT+1 (DOMAIN.md) and a program counts its calendars in its time zone
    (docs/tiers-and-jobs.md). A month of validity from 1 March 00:30 GMT+1 ends on 1 April 00:30
    GMT+1; it was counted in UTC (28 February 23:30 + 1 month), and ended on 29 March."""
    spec = {
        k: v for k, v in program.items() if k not in {"program_id", "created_at", "updated_at", "version"}
    }
    spec["nq_points"] = {**spec["nq_points"], "validity": {"value": 1, "unit": "month"}}
    spec["q_points"] = {**spec["q_points"], "validity": {"value": 1, "unit": "month"}}
    assert call("api_put_program", ADMIN, body=spec).status == 200
    # an adjustment's credit at 1 March 00:30 GMT+1, and an order placed then
    clock.now = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    adjusted = call("api_adjust_points", ADMIN, body={"kind": "nq", "points": 5, "reason_code": "goodwill"})
    assert adjusted.status == 201, adjusted.body
    clock.now = datetime(2026, 3, 5, tzinfo=UTC)
    earned = call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id="MARCH", amount="10.00", ordered_at="2026-03-01T00:30:00+01:00", lines=[]),
    )
    assert earned.status == 201, earned.body
    assert earned.body["balances"]["nq"]["next_expiry"] == {"points": 105, "at": "2026-03-31T23:30:00Z"}
    lots = call("api_get_member_lots", ADMIN).body["lots"]
    assert {(lot["kind"], lot["expires_at"]) for lot in lots} == {
        ("nq", "2026-03-31T23:30:00Z"),
        ("q", "2026-03-31T23:30:00Z"),
    }


def test_a_holding_period_across_a_daylight_saving_change_keeps_the_wall_time(member, program, clock):
    spec = {
        k: v for k, v in program.items() if k not in {"program_id", "created_at", "updated_at", "version"}
    }
    spec["time_zone"] = "Europe/Paris"
    assert call("api_put_program", ADMIN, body=spec).status == 200
    clock.now = datetime(2026, 3, 21, tzinfo=UTC)
    earned = call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id="SPRING", amount="10.00", ordered_at="2026-03-20T12:00:00+01:00", lines=[]),
    )
    assert earned.status == 201, earned.body
    # 14 days later at 12:00 Paris time, summer time by then (+02:00)
    assert earned.body["earned"]["nq_available_at"] == "2026-04-03T10:00:00Z"
