"""Seed walkthrough: each test is a concrete behaviour stated by a seed or DOMAIN.md, through the
real handlers (seed 000's lifecycles, 002's reward columns, 003's tiers, 004's instruments, and
DOMAIN.md's "Late data and catch-up")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import Reply, call, load_event
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, report, upload
from tests.support.jobs import services


def _earn(order_id: str, ordered_at: str, amount: str = "100.00", **extra: Any) -> Reply:
    return call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id=order_id, ordered_at=ordered_at, amount=amount, **{"lines": [], **extra}),
    )


def _member() -> dict[str, Any]:
    reply = call("api_get_member", SHOP)
    assert reply.status == 200, reply.body
    return reply.body


def _program(**changes: Any) -> Reply:
    spec = json.loads(load_event("api_put_program")["body"])
    spec.update(changes)
    return call("api_put_program", ADMIN, body=spec)


def _ledger_kinds() -> list[str]:
    reply = call("api_get_ledger", SHOP, query={"limit": "50"})
    assert reply.status == 200, reply.body
    return [entry["kind"] for entry in reversed(reply.body["entries"])]


# --- seed 000: the lifecycle of points (pending -> available -> spent / expired) ----------------


def test_points_go_pending_available_spent_then_expired(member, clock):
    earned = _earn("LIFE-1", "2026-12-10T12:00:00Z")  # 100 EUR x 10 = 1000 NQ, 100 Q; 14 days held
    assert earned.status == 201, earned.body
    nq = earned.body["balances"]["nq"]
    assert (nq["available"], nq["pending"]) == (0, 1000)
    refused = call("api_burn_points", SHOP, body={"burn_id": "B-EARLY", "points": 1})
    assert refused.status == 409 and refused.body["code"] == "insufficient_points"

    clock.advance(days=14)
    nq = _member()["balances"]["nq"]
    assert (nq["available"], nq["pending"]) == (1000, 0)
    spent = call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": 400})
    assert spent.status == 201, spent.body
    assert _member()["balances"]["nq"]["available"] == 600

    clock.advance(days=365)  # a year after the order: what is left has expired
    assert _member()["balances"]["nq"] == {"available": 0, "pending": 0, "next_expiry": None}
    assert _member()["balances"]["q"]["valid"] == 0
    refused = call("api_burn_points", SHOP, body={"burn_id": "B-2", "points": 1})
    assert refused.status == 409 and refused.body["code"] == "insufficient_points"
    # the expiry is written by the member's next write (or the daily expire-points run)
    assert _earn("LIFE-2", "2027-12-24T11:00:00Z", "1.00").status == 201
    assert _ledger_kinds() == ["earn", "burn", "expire", "earn"]


def test_q_points_are_never_spent(member, clock):
    assert _earn("Q-KEEP", "2026-12-10T12:00:00Z").status == 201
    clock.advance(days=15)
    assert call("api_burn_points", SHOP, body={"burn_id": "ALL", "points": 1000}).status == 201
    balances = _member()["balances"]
    assert (balances["nq"]["available"], balances["q"]["valid"]) == (0, 100)


# --- seed 000 / 002: the lifecycle of a reward (attributed -> burned, or expired) ---------------


def _put_reward(external_id: str, **overrides: Any) -> Reply:
    body = {**json.loads(load_event("api_put_reward")["body"]), **overrides}
    return call("api_put_reward", ADMIN, path={"external_id": external_id}, body=body)


def _buy(reward_id: str, key: str, quantity: int = 1) -> Reply:
    return call(
        "api_buy_reward",
        SHOP,
        body={"reward_id": reward_id, "quantity": quantity},
        headers={"Idempotency-Key": key},
    )


def _burn_reward(attribution_id: str, key: str, **body: Any) -> Reply:
    return call(
        "api_burn_reward",
        SHOP,
        path={"attribution_id": attribution_id},
        body={"quantity": 1, **body},
        headers={"Idempotency-Key": key},
    )


def test_a_reward_with_holding_days_is_at_disposal_after_them_and_expires_after_its_interval(member, clock):
    assert _earn("FUND", "2026-11-20T12:00:00Z", "300.00").status == 201  # 3000 NQ, available
    # seed 002: holding_days between selecting a reward and having it; validity 2 weeks after
    assert (
        _put_reward("spa", holding_days=3, validity_interval_count=2, validity_interval_type="week").status
        == 201
    )
    bought = _buy("spa", "BUY-SPA")
    assert bought.status == 201, bought.body
    assert (bought.body["valid_from"], bought.body["valid_until"]) == (
        "2026-12-13T12:00:00Z",
        "2026-12-27T12:00:00Z",
    )
    assert bought.body["nqp_spent"] == 100
    assert _member()["balances"]["nq"]["available"] == 2900
    assert _statuses() == {"BUY-SPA": "pending"}  # its holding days
    early = _burn_reward(bought.body["attribution_id"], "USE-EARLY")
    assert early.status == 422 and early.body["code"] == "burn_outside_validity"
    clock.advance(days=3)
    assert _statuses() == {"BUY-SPA": "available"}
    used = _burn_reward(bought.body["attribution_id"], "USE-1")
    assert used.status == 201 and (used.body["burned"], used.body["remaining"]) == (1, 0)
    again = _burn_reward(bought.body["attribution_id"], "USE-2")
    assert again.status == 409 and again.body["code"] == "already_burned"

    unused = _buy("spa", "BUY-SPA-2")
    assert unused.status == 201
    clock.advance(days=20)  # past its validity: expired, it cannot be burned any more
    late = _burn_reward(unused.body["attribution_id"], "USE-LATE")
    assert late.status == 422 and late.body["code"] == "burn_outside_validity"
    assert _statuses() == {"BUY-SPA": "burned", "BUY-SPA-2": "expired"}


def _statuses() -> dict[str, str]:
    """Each of the member's rewards' state now, by the Idempotency-Key that bought it."""
    reply = call("api_list_member_rewards", SHOP)
    assert reply.status == 200, reply.body
    return {a["source"].removeprefix("api:"): a["status"] for a in reply.body["attributions"]}


def test_a_reward_valid_for_months_counts_calendar_months(member, clock):
    assert _earn("FUND", "2026-11-20T12:00:00Z", "300.00").status == 201
    assert _put_reward("salad", validity_interval_count=1, validity_interval_type="Months").status == 201
    bought = _buy("salad", "BUY-SALAD")
    assert bought.status == 201, bought.body
    assert bought.body["valid_until"] == "2027-01-10T12:00:00Z"


# --- DOMAIN.md "Late data": a late order earns with the rules of its order time ----------------


def test_a_late_order_earns_with_the_earning_rules_and_product_setting_of_its_time(member, clock):
    clock.advance(days=1)  # 2026-12-11 12:00: SKU-1 now earns fixed points, other products nothing
    rules = [{"sku": "SKU-1", "points_per_unit": 500}]
    changed = _program(earning_rules=rules, products_without_rule="earn_nothing")
    assert changed.status == 200, changed.body
    lines = [{"sku": "SKU-9", "quantity": 1, "amount": "100.00"}]
    # placed the day before the change: by its amount, lines or not
    late = _earn("LATE-LINES", "2026-12-10T20:00:00Z", lines=lines)
    assert late.status == 201 and late.body["earned"]["nq"] == 1_000, late.body
    late_bare = _earn("LATE-BARE", "2026-12-10T21:00:00Z")
    assert late_bare.status == 201 and late_bare.body["earned"]["nq"] == 1_000, late_bare.body
    # placed after it: SKU-9 has no rule and earns nothing; an order without lines is refused
    now = _earn("NOW-LINES", "2026-12-11T12:00:00Z", lines=lines)
    assert now.status == 201 and now.body["earned"]["nq"] == 0, now.body
    bare = _earn("NOW-BARE", "2026-12-11T12:00:00Z")
    assert bare.status == 422 and bare.body["code"] == "lines_required"


# --- seed 003: tier multipliers default to the tier number, for Q points too; VIP cumulates -----


def test_a_silver_member_earns_at_twice_the_rate_and_a_vip_tier_no_larger_changes_nothing(member, clock):
    """The larger multiplier of the two counts (unit: test_effective_multiplier_is_the_larger_per_kind):
    staff's NQ x2 and Q x1 are no larger than Silver's x2, so nothing adds up."""
    assert _earn("Q-600", "2026-12-01T10:00:00Z", "600.00").body["earned"]["q"] == 600
    at = datetime(2026, 12, 10, 2, tzinfo=UTC)  # 03:00 GMT+1, an occurrence of the daily upgrade
    summary = run_now(
        services(), JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=at)
    )
    assert summary.changed == 1
    assert _member()["tier"] == {"rank": 2, "name": "Silver"}  # 600 >= Silver's entry threshold 500
    earned = _earn("SILVER", "2026-12-10T12:00:00Z").body["earned"]
    assert (earned["nq"], earned["q"]) == (2000, 200)  # 100 EUR x 10 x 2 NQ, 100 x 1 x 2 Q
    granted = call("api_grant_vip_tier", ADMIN, path={"vip_tier": "staff"}, body={"reason": "store manager"})
    assert granted.status == 200, granted.body
    clock.advance(minutes=1)
    member_view = _member()
    assert (member_view["tier"]["name"], member_view["vip_tiers"]) == ("Silver", ["staff"])
    earned = _earn("SILVER-STAFF", "2026-12-10T12:01:00Z").body["earned"]
    assert (earned["nq"], earned["q"]) == (2000, 200)  # staff (NQ x2, Q x1) adds nothing to Silver


# --- seed 002 + DOMAIN.md: a forced validity from a file; no buy once it has ended ---------------

FORCED_MASTER = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;forced_validity_start;forced_validity_end;is_limited;max_attribution_count\n"
    "summer;Summer;0;10;0;1;day;1;2018-08-01;2018-08-05;1;10\n"
)


def test_a_forced_validity_imported_with_bare_dates_bounds_what_can_be_bought(world):
    world.enrol("CC0001")
    name = f"demo_masterreward_{PROGRAM}_20180801.csv"
    assert deliver(upload(world.s3, name, FORCED_MASTER)) == {"batchItemFailures": []}
    assert report(world.s3, name)[0]["applied"] == 1
    summer = call("api_get_reward", SHOP, path={"external_id": "summer"}).body
    # "the time part is optional but will equal 00:00:00", in GMT+1
    assert (summer["forced_validity_start"], summer["forced_validity_end"]) == (
        "2018-07-31T23:00:00Z",
        "2018-08-04T23:00:00Z",
    )
    order = order_body(order_id="O-1", ordered_at="2018-08-01T08:00:00Z", amount="100.00", lines=[])
    assert call("api_earn_order", SHOP, path={"card_code": "CC0001"}, body=order).status == 201

    def buy(key: str) -> Reply:
        return call(
            "api_buy_reward",
            SHOP,
            path={"card_code": "CC0001"},
            body={"reward_id": "summer"},
            headers={"Idempotency-Key": key},
        )

    world.at(datetime(2018, 8, 3, 9, tzinfo=UTC))
    bought = buy("B-1")
    assert bought.status == 201, bought.body
    # the forced window overrides the one-day relative validity
    assert (bought.body["valid_from"], bought.body["valid_until"]) == (
        "2018-07-31T23:00:00Z",
        "2018-08-04T23:00:00Z",
    )
    world.at(datetime(2018, 8, 4, 23, tzinfo=UTC))  # the end of the forced window
    ended = buy("B-2")
    assert (ended.status, ended.body["code"]) == (409, "reward_expired")
    member = call("api_get_member", SHOP, path={"card_code": "CC0001"}).body
    assert member["balances"]["nq"]["available"] == 90  # only the first buy spent its 10 points
