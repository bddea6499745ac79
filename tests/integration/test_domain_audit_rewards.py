"""Rewards bought with NQ points and used, as an auditor who read DOMAIN.md and seeds 000 and 001
checks them through the real API handler on moto, numbers worked out by hand: the sample reward
`coffee` costs 100 NQ points, is valid 30 days, 500 units; the sample program credits 10 NQ per
EUR, held 14 days, valid 1 year. Each test quotes the rule it checks."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.integration.conftest import SHOP, order_body
from tests.support.api import call
from tests.support.rewards import burn, buy, nq_available, put_reward


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def earn(order_id: str, ordered_at: str, amount: str) -> None:
    body = order_body(order_id=order_id, ordered_at=ordered_at, amount=amount, lines=[])
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body


def status_of(attribution_id: str) -> str:
    reply = call("api_list_member_rewards", SHOP)
    assert reply.status == 200, reply.body
    (found,) = [a for a in reply.body["attributions"] if a["attribution_id"] == attribution_id]
    return found["status"]


def test_a_reward_bought_in_quantity_costs_its_price_times_the_quantity_and_is_used_unit_by_unit(
    funded, clock
):
    """DOMAIN.md: buying spends nqp_value x quantity NQ points (3 x 100 of 1299); a burn must name
    an attribution that is not fully burned."""
    assert put_reward().status == 201
    bought = buy(quantity=3)
    assert bought.status == 201, bought.body
    assert (bought.body["nqp_spent"], bought.body["quantity"]) == (300, 3)
    assert nq_available() == 999
    attribution = bought.body["attribution_id"]
    assert burn(attribution, key="u1", quantity=2).status == 201
    too_many = burn(attribution, key="u2", quantity=2)
    assert (too_many.status, too_many.body["code"]) == (409, "insufficient_quantity"), too_many.body
    assert burn(attribution, key="u3").status == 201
    done = burn(attribution, key="u4")
    assert (done.status, done.body["code"]) == (409, "already_burned"), done.body
    assert status_of(attribution) == "burned"
    assert nq_available() == 999  # using a reward costs no points


def test_a_reward_with_holding_days_is_pending_then_available_then_expired(funded, clock):
    """Seed 000 (lifecycles of points and rewards) / rewards-and-imports.md: a bought reward's
    window is `holding_days` then the validity: bought 10 Dec 12:00 UTC with 2 holding days and
    30 days of validity, it is used from 12 Dec 12:00 until 11 Jan 12:00 UTC."""
    assert put_reward(holding_days=2).status == 201
    bought = buy()
    assert bought.status == 201, bought.body
    assert (bought.body["valid_from"], bought.body["valid_until"]) == (
        "2026-12-12T12:00:00Z",
        "2027-01-11T12:00:00Z",
    )
    attribution = bought.body["attribution_id"]
    assert status_of(attribution) == "pending"
    early = burn(attribution, key="early")
    assert (early.status, early.body["code"]) == (422, "burn_outside_validity"), early.body
    clock.now = at("2026-12-12T12:00:00Z")
    assert status_of(attribution) == "available"
    clock.now = at("2027-01-11T12:00:00Z")
    assert status_of(attribution) == "expired"
    late = burn(attribution, key="late")
    assert (late.status, late.body["code"]) == (422, "burn_outside_validity"), late.body


def test_pending_points_cannot_buy_a_reward_and_the_refusal_takes_no_stock(member, clock):
    """DOMAIN.md: NQ points are pending until the holding period passes; a refused write changes
    nothing (stock included)."""
    assert put_reward(max_attribution_count=1).status == 201
    earn("A", "2026-12-10T10:00:00+01:00", "50.00")  # 500 NQ pending until 24 Dec
    refused = buy()
    assert (refused.status, refused.body["code"]) == (409, "insufficient_points"), refused.body
    assert call("api_get_reward", SHOP, path={"external_id": "coffee"}).body["attributed"] == 0
    clock.now = at("2026-12-24T10:00:00+01:00")
    assert buy(key="buy-2").status == 201
    assert nq_available() == 400


def test_a_reward_out_of_stock_is_refused_and_spends_nothing(funded, clock):
    """DOMAIN.md: an attribution beyond stock is refused (`out_of_stock`), never oversold."""
    assert put_reward(max_attribution_count=1).status == 201
    assert buy().status == 201
    second = buy(key="buy-2")
    assert (second.status, second.body["code"]) == (409, "out_of_stock"), second.body
    assert nq_available() == 1199
    ledger = call("api_get_ledger", SHOP).body["entries"]
    assert [e["kind"] for e in ledger] == ["burn", "earn"]


def test_buying_a_reward_spends_the_soonest_expiring_points_first(member, clock):
    """DOMAIN.md: a debit consumes available lots, soonest-expiring first. A (20 Nov, 100 NQ) is
    recorded before B (1 Nov, 200 NQ); a 200-point reward takes all of B."""
    assert put_reward(nqp_value=200).status == 201
    earn("A", "2026-11-20T10:00:00+01:00", "10.00")
    earn("B", "2026-11-01T10:00:00+01:00", "20.00")
    assert buy().status == 201
    clock.now = at("2027-11-01T10:00:00+01:00")  # B would expire now
    assert nq_available() == 100
