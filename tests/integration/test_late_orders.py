"""A late order is computed as of the time it was placed: the member's tier and VIP tiers, and
the program's rates, earning rules and lot validity of that time (DOMAIN.md, "Late data")."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import call, load_event
from tests.support.jobs import services


def _earn(order_id: str, ordered_at: str, amount: str = "100.00") -> dict:
    reply = call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id=order_id, ordered_at=ordered_at, amount=amount, lines=[]),
    )
    assert reply.status == 201, reply.body
    return reply.body["earned"]


def _upgrade(at: datetime) -> None:
    summary = run_now(
        services(), JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=at)
    )
    assert summary.changed == 1, summary


def test_an_order_placed_before_an_upgrade_earns_with_the_tier_of_its_time(member, clock):
    _earn("Q-600", "2026-11-20T10:00:00Z", "600.00")  # 600 Q points: Silver from 500
    _upgrade(datetime(2026, 12, 5, 2, tzinfo=UTC))
    assert call("api_get_member", SHOP).body["tier"]["name"] == "Silver"
    # placed at Blue (multiplier 1), delivered after the upgrade: 100 EUR x 10 points
    assert _earn("LATE", "2026-12-01T10:00:00Z")["nq"] == 1_000
    # placed at Silver (multiplier 2)
    assert _earn("ON-TIME", "2026-12-08T10:00:00Z")["nq"] == 2_000


def test_a_vip_tier_counts_from_its_grant(member, clock):
    granted = call(
        "api_grant_vip_tier", ADMIN, path={"vip_tier": "staff"}, body={"reason": "employee since December"}
    )
    assert granted.status == 200, granted.body
    assert _earn("BEFORE-GRANT", "2026-12-01T10:00:00Z")["nq"] == 1_000  # staff x2 not yet
    assert _earn("AFTER-GRANT", "2026-12-10T12:00:00Z")["nq"] == 2_000
    clock.advance(days=1)
    assert call("api_remove_vip_tier", ADMIN, path={"vip_tier": "staff"}).status == 200
    assert _earn("WHILE-STAFF", "2026-12-10T18:00:00Z")["nq"] == 2_000  # delivered after the removal


def test_an_order_placed_before_a_program_change_earns_with_the_settings_of_its_time(member, clock):
    clock.advance(days=1)  # 2026-12-11 12:00: the rate goes from 10 to 20 points per EUR
    spec = json.loads(load_event("api_put_program")["body"])
    spec["nq_points"]["conversion_rate"] = "20"
    spec["nq_points"]["validity"] = {"value": 2, "unit": "years"}
    assert call("api_put_program", ADMIN, body=spec).status == 200
    late = call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id="OLD-RATE", ordered_at="2026-12-10T20:00:00Z", amount="100.00", lines=[]),
    )
    assert late.body["earned"]["nq"] == 1_000
    assert late.body["balances"]["nq"]["next_expiry"]["at"] == "2027-12-10T20:00:00Z"  # its own validity
    assert _earn("NEW-RATE", "2026-12-11T12:00:00Z")["nq"] == 2_000
    # an order placed before the program was first saved (a backfill) earns with it as it is
    assert _earn("BEFORE-ALL", "2026-11-20T10:00:00Z")["nq"] == 2_000
