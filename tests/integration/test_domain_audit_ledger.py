"""NQ and Q points through earns, burns, returns and expiry, as an auditor who read DOMAIN.md and
seeds 000, 001 and 003 checks them through the real API handler on moto. Numbers worked out by
hand from the sample program (events/api_put_program.json): NQ 10 per EUR rounded down, held
14 days, valid 1 year; Q 1 per EUR rounded down, no holding, valid 1 year; Blue x1, Silver x2,
Gold x3; VIP `staff` NQ x2, Q x1. Each test quotes the rule it checks."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import call
from tests.support.ledger import assert_running_balances


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def earn(order_id: str, ordered_at: str, amount: str) -> dict:
    body = order_body(order_id=order_id, ordered_at=ordered_at, amount=amount, lines=[])
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    return reply.body


def balances() -> dict:
    reply = call("api_get_member", SHOP)
    assert reply.status == 200, reply.body
    return reply.body["balances"]


def ledger_oldest_first() -> list[dict]:
    reply = call("api_get_ledger", SHOP, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return list(reversed(reply.body["entries"]))


def test_nq_points_are_pending_for_the_holding_period_and_cannot_be_burned_before(member, clock):
    """DOMAIN.md: NQ points are pending until the holding period passes; Q points have their own
    holding period (none here): 50.00 EUR at 10:00 GMT+1 = 500 NQ pending until 24 Dec 10:00, 50 Q at once."""
    clock.now = at("2026-12-10T12:00:00+01:00")
    earned = earn("A", "2026-12-10T10:00:00+01:00", "50.00")
    assert (earned["earned"]["nq"], earned["earned"]["q"]) == (500, 50)
    now = balances()
    assert (now["nq"]["available"], now["nq"]["pending"], now["q"]["valid"]) == (0, 500, 50)
    refused = call("api_burn_points", SHOP, body={"points": 1, "burn_id": "early"})
    assert (refused.status, refused.body["code"]) == (409, "insufficient_points"), refused.body
    assert len(ledger_oldest_first()) == 1  # the refusal wrote nothing
    clock.now = at("2026-12-24T09:59:59+01:00")
    assert balances()["nq"]["available"] == 0
    clock.now = at("2026-12-24T10:00:00+01:00")
    assert balances()["nq"]["available"] == 500
    burned = call("api_burn_points", SHOP, body={"points": 500, "burn_id": "on-time"})
    assert burned.status == 201, burned.body
    assert (burned.body["balances"]["nq"]["available"], burned.body["balances"]["q"]["valid"]) == (0, 50)


def test_a_burn_takes_the_soonest_expiring_lot_first_whatever_order_the_lots_were_earned_in(member, clock):
    """DOMAIN.md: a debit consumes available lots, soonest-expiring first; expiry removes what is
    left of a lot. A (ordered 20 Nov, 100 NQ) is recorded before B (ordered 1 Nov, 200 NQ)."""
    earn("A", "2026-11-20T10:00:00+01:00", "10.00")  # 100 NQ, expires 2027-11-20 10:00 GMT+1
    earn("B", "2026-11-01T10:00:00+01:00", "20.00")  # 200 NQ, expires 2027-11-01 10:00 GMT+1
    burned = call("api_burn_points", SHOP, body={"points": 250, "burn_id": "X"})
    assert burned.status == 201, burned.body  # all of B, 50 of A
    clock.now = at("2027-11-01T10:00:00+01:00")  # B expires: nothing was left of it
    assert balances()["nq"]["available"] == 50
    clock.now = at("2027-11-20T10:00:00+01:00")
    assert balances()["nq"]["available"] == 0


def test_q_points_are_never_spent_by_a_burn(member, clock):
    """DOMAIN.md: Q points only place members in tiers; they are never spent."""
    earn("A", "2026-11-20T10:00:00+01:00", "129.90")  # 1299 NQ 129 Q
    burned = call("api_burn_points", SHOP, body={"points": 1299, "burn_id": "all"})
    assert burned.status == 201, burned.body
    assert (burned.body["balances"]["nq"]["available"], burned.body["balances"]["q"]["valid"]) == (0, 129)
    more = call("api_burn_points", SHOP, body={"points": 1, "burn_id": "more"})
    assert (more.status, more.body["code"]) == (409, "insufficient_points")


def test_a_partial_return_takes_back_nq_and_q_in_proportion(member, clock):
    """DOMAIN.md: returns reverse what an order earned, proportionally: half of 129.90 takes back
    floor(1299 x 64.95 / 129.90) = 649 NQ and floor(129 / 2) = 64 Q."""
    earn("A", "2026-11-20T10:00:00+01:00", "129.90")
    ret = call("api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": "R1", "amount": "64.95"})
    assert ret.status == 201, ret.body
    assert (ret.body["reversed"]["nq"], ret.body["reversed"]["q"]) == (649, 64)
    assert (ret.body["balances"]["nq"]["available"], ret.body["balances"]["q"]["valid"]) == (650, 65)
    more = call("api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": "R2", "amount": "64.96"})
    assert (more.status, more.body["code"]) == (422, "return_exceeds_order"), more.body
    assert balances()["nq"]["available"] == 650  # the refused return changed nothing


def test_a_return_after_the_orders_lot_expired_takes_nothing_from_the_other_lots(member, clock):
    """decisions.md: once the order's lot has expired, a return takes nothing from other lots; the
    shortfall is written on the entry (`unrecovered`)."""
    earn("A", "2026-11-20T10:00:00+01:00", "10.00")  # 100 NQ 10 Q, expire 2027-11-20 10:00
    earn("B", "2026-12-01T10:00:00+01:00", "20.00")  # 200 NQ 20 Q, expire 2027-12-01 10:00
    clock.now = at("2027-11-25T12:00:00+01:00")
    ret = call("api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": "R-A"})
    assert ret.status == 201, ret.body
    assert ret.body["reversed"] == {"nq": 0, "q": 0, "unrecovered": 110}
    assert (ret.body["balances"]["nq"]["available"], ret.body["balances"]["q"]["valid"]) == (200, 20)


def test_the_ledger_adds_up_to_the_balances_through_earn_burn_return_and_expiry(member, clock):
    """DOMAIN.md: every change is an append-only ledger entry; the balance is always the sum of the
    ledger and never negative; expiry removes what is left of a lot."""
    earn("A", "2026-11-20T10:00:00+01:00", "100.00")  # 1000 NQ 100 Q
    earn("B", "2026-11-25T10:00:00+01:00", "30.00")  # 300 NQ 30 Q
    assert call("api_burn_points", SHOP, body={"points": 400, "burn_id": "X"}).status == 201  # A: 600 left
    ret = call("api_return_order", SHOP, path={"order_id": "B"}, body={"return_id": "R", "amount": "10.00"})
    assert (ret.status, ret.body["reversed"]["nq"], ret.body["reversed"]["q"]) == (201, 100, 10)
    clock.now = at("2027-11-21T12:00:00+01:00")  # A's lots expired: 600 NQ, 100 Q
    earn("C", "2027-11-21T11:00:00+01:00", "5.00")  # 50 NQ pending, 5 Q
    entries = ledger_oldest_first()
    assert [e["kind"] for e in entries] == ["earn", "earn", "burn", "return", "expire", "earn"]
    expire = entries[4]
    assert (expire["nq"], expire["q"]) == (-600, -100)
    totals = assert_running_balances(entries)
    assert totals == {"nq": 200 + 50, "q": 20 + 5}
    now = balances()
    assert (now["nq"]["available"], now["nq"]["pending"], now["q"]["valid"]) == (200, 50, 25)


def test_a_vip_tier_multiplies_by_the_larger_of_the_standard_and_vip_multipliers(member, clock):
    """DOMAIN.md: effective multiplier = the larger of the two. Blue (x1) + staff (NQ x2, Q x1):
    10.00 EUR earns 200 NQ and 10 Q."""
    clock.now = at("2026-12-10T14:00:00+01:00")
    admin = call(
        "api_grant_vip_tier",
        ADMIN,
        path={"card_code": member["card_code"], "vip_tier": "staff"},
        body={"reason": "HR"},
    )
    assert admin.status == 200, admin.body
    clock.now = at("2026-12-10T14:01:00+01:00")
    earned = earn("V", "2026-12-10T14:01:00+01:00", "10.00")["earned"]
    assert (earned["nq"], earned["q"]) == (200, 10)
