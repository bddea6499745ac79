"""Domain events through the real handlers on moto: each operation, then the table's stream
delivered to the real publisher (as the event source mapping does), then what reached the bus
(a rule -> SQS capture). Every change is one event of its kind, with its schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from loyalty_engine.tiers.jobs import JobRequest
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import call
from tests.support.events import EventCapture
from tests.support.fast_clients import shared_botocore_loader
from tests.support.jobs import run_in_time


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@pytest.fixture
def bus(table) -> EventCapture:
    _, name = table
    return EventCapture(name)


def one(bus: EventCapture, kind: str) -> dict:
    found = bus.details(kind)
    assert len(found) == 1, found
    return found[0]


def test_an_enrolment_then_an_earn_are_one_event_each(bus, member) -> None:
    enrolled = one(bus, "member.enrolled")
    assert (enrolled["card_code"], enrolled["group"], enrolled["program_id"]) == (CARD, "demo", "club")
    reply = call("api_earn_order", SHOP)
    assert reply.status == 201, reply.body
    earned = one(bus, "points.earned")
    assert (earned["nq"], earned["q"]) == (reply.body["earned"]["nq"], reply.body["earned"]["q"])
    assert earned["nq_balance"] == 1299 and earned["reference"] == "WEB-100045"
    assert earned["occurred_at"].endswith("Z") and earned["recorded_at"].endswith("Z")
    # a replay of the same order writes nothing, so it publishes nothing
    assert call("api_earn_order", SHOP).status in (200, 201)
    assert bus.kinds() == ["member.enrolled", "points.earned"]


def test_a_late_order_earns_an_event_that_occurred_when_the_order_was_placed(bus, member) -> None:
    """events.md: `occurred_at` is when the change took effect, for an earn the order's time,
    whenever the till or the web shop sent it; `recorded_at` is when the table recorded it."""
    body = order_body(order_id="LATE-1", ordered_at="2026-11-20T15:04:05+01:00")
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    earned = one(bus, "points.earned")
    assert earned["occurred_at"] == "2026-11-20T14:04:05Z"
    assert earned["recorded_at"] > earned["occurred_at"]
    ledger = call("api_get_ledger", SHOP).body["entries"]
    assert (ledger[0]["kind"], ledger[0]["occurred_at"]) == ("earn", "2026-11-20T14:04:05Z")
    assert ledger[0]["at"] == "2026-12-10T12:00:00Z"  # recorded now, on the fake clock


def test_a_return_and_a_burn(bus, member) -> None:
    assert call("api_earn_order", SHOP).status == 201
    returned = call("api_return_order", SHOP)
    assert returned.status == 201, returned.body
    event = one(bus, "points.returned")
    assert event["nq"] < 0 and event["entry_kind"] == "return"
    burned = call("api_burn_points", SHOP)
    assert burned.status == 201, burned.body
    event = one(bus, "points.burned")
    assert event["nq"] < 0 and event["nq_balance"] == burned.body["balances"]["nq"]["available"]
    assert bus.kinds() == ["member.enrolled", "points.burned", "points.earned", "points.returned"]


def test_points_expired_by_the_daily_job(bus, member, clock) -> None:
    body = order_body(order_id="OLD", amount="100.00", ordered_at="2026-03-10T12:00:00Z", lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201
    run_at = datetime(2027, 3, 10, 23, tzinfo=UTC)
    clock.now = run_at + timedelta(hours=1)
    request = JobRequest(group="demo", program_id="club", job="expire-points", scheduled_at=run_at)
    assert run_in_time(request).state == "completed"
    expired = one(bus, "points.expired")
    assert (expired["nq"], expired["q"], expired["nq_balance"]) == (-1000, -100, 0)
    assert expired["occurred_at"] == "2027-03-10T12:00:00Z"
    run_in_time(request)  # the run again: nothing changes, nothing is published
    assert len(bus.details("points.expired")) == 1


def test_a_tier_upgrade_by_the_scheduled_run(bus, member, clock) -> None:
    body = order_body(order_id="BIG", amount="2000.00", ordered_at="2026-01-01T10:00:00Z", lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201
    at = datetime(2026, 1, 2, 2, tzinfo=UTC)
    assert run_in_time(JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=at))
    upgraded = one(bus, "tier.upgraded")
    assert upgraded["new_tier"]["rank"] > (upgraded["previous_tier"] or {"rank": 0})["rank"]
    assert upgraded["card_code"] == CARD


def test_vip_granted_then_removed(bus, member) -> None:
    assert call("api_grant_vip_tier", ADMIN).status == 200
    granted = one(bus, "vip.granted")
    assert (granted["vip_tier"], granted["vip_tiers"], granted["source"]) == ("staff", ["staff"], "api")
    assert call("api_grant_vip_tier", ADMIN).status == 200  # already so: no change, no event
    removed = call("api_remove_vip_tier", ADMIN)
    assert removed.status == 200, removed.body
    event = one(bus, "vip.removed")
    assert (event["vip_tier"], event["vip_tiers"]) == ("staff", [])
    assert len(bus.details("vip.granted")) == 1


def test_a_reward_bought_then_burned(bus, member) -> None:
    from tests.support.rewards import burn, buy, put_reward

    assert put_reward().status in (200, 201)
    big = order_body(order_id="FUND", amount="500.00", lines=[])
    assert call("api_earn_order", SHOP, body=big).status == 201
    bought = buy(quantity=2)
    assert bought.status == 201, bought.body
    attributed = one(bus, "reward.attributed")
    assert (attributed["reward_id"], attributed["quantity"]) == ("coffee", 2)
    assert attributed["attribution_id"] == bought.body["attribution_id"]
    spent = one(bus, "points.burned")  # the purchase's ledger entry
    assert spent["nq"] == -attributed["nqp_spent"]
    used = burn(attributed["attribution_id"])
    assert used.status in (200, 201), used.body
    assert burn(attributed["attribution_id"]).status in (200, 201)  # a replay: no second event
    burned = one(bus, "reward.burned")
    assert (burned["quantity"], burned["burned"], burned["remaining"]) == (1, 1, 1)
    assert burned["source"].startswith("api:") and burned["store_id"] == "store-12"


def test_every_event_id_is_unique_and_stable(bus, member) -> None:
    assert call("api_earn_order", SHOP).status == 201
    first = bus.details()
    assert len({d["event_id"] for d in first}) == len(first) == 2


def test_points_expiring_soon_are_noticed_once_per_lot_by_the_daily_job(bus, member, clock) -> None:
    body = order_body(order_id="OLD", amount="100.00", ordered_at="2026-03-10T12:00:00Z", lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201

    def expire_run(at: datetime) -> None:
        clock.now = at + timedelta(hours=1)
        request = JobRequest(group="demo", program_id="club", job="expire-points", scheduled_at=at)
        assert run_in_time(request).state == "completed"

    expire_run(datetime(2027, 1, 31, 23, tzinfo=UTC))  # 38 days ahead: not yet
    assert bus.details("points.expiring_soon") == []
    expire_run(datetime(2027, 2, 10, 23, tzinfo=UTC))  # 27 days ahead (the default: 30)
    notices = bus.details("points.expiring_soon")
    assert sorted((n["point_kind"], n["points"]) for n in notices) == [("nq", 1000), ("q", 100)]
    assert {n["expires_at"] for n in notices} == {"2027-03-10T12:00:00Z"}
    assert {n["card_code"] for n in notices} == {CARD}
    expire_run(datetime(2027, 2, 11, 23, tzinfo=UTC))  # the next day: each lot is noticed once
    assert len(bus.details("points.expiring_soon")) == 2


def test_a_program_with_no_notice_period_notices_nothing(bus, member, clock) -> None:
    from tests.support.api import load_event

    program = json.loads(load_event("api_put_program")["body"])
    assert call("api_put_program", ADMIN, body={**program, "expiry_notice_days": 0}).status == 200
    body = order_body(order_id="OLD", amount="100.00", ordered_at="2026-03-10T12:00:00Z", lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201
    at = datetime(2027, 2, 10, 23, tzinfo=UTC)
    clock.now = at + timedelta(hours=1)
    run_in_time(JobRequest(group="demo", program_id="club", job="expire-points", scheduled_at=at))
    assert bus.details("points.expiring_soon") == []


def test_a_tier_downgrade_by_the_scheduled_run(bus, member, clock) -> None:
    from tests.support.jobs import DOWNGRADE_AT

    body = order_body(order_id="BIG", amount="2000.00", ordered_at="2026-01-01T10:00:00Z", lines=[])
    assert call("api_earn_order", SHOP, body=body).status == 201
    up = datetime(2026, 1, 2, 2, tzinfo=UTC)
    run_in_time(JobRequest(group="demo", program_id="club", job="tier-upgrade", scheduled_at=up))
    for year in (0, 1):  # the first downgrade, and the next one a year on
        at = DOWNGRADE_AT.replace(year=DOWNGRADE_AT.year + year)
        clock.now = at + timedelta(hours=1)
        run_in_time(JobRequest(group="demo", program_id="club", job="tier-downgrade", scheduled_at=at))
    downgrades = bus.details("tier.downgraded")
    assert downgrades, bus.kinds()
    for event in downgrades:
        assert event["new_tier"]["rank"] < event["previous_tier"]["rank"]
    assert len({e["event_id"] for e in downgrades}) == len(downgrades)


def test_a_customer_service_adjustment_is_one_points_adjusted_event(bus, member) -> None:
    assert call("api_earn_order", SHOP).status == 201  # 1299 NQ available
    body = {"kind": "nq", "points": -299, "reason_code": "correction", "comment": "double order"}
    headers = {"Idempotency-Key": "adj-event-1"}
    reply = call("api_adjust_points", ADMIN, body=body, headers=headers)
    assert reply.status == 201, reply.body
    adjusted = one(bus, "points.adjusted")
    assert (adjusted["nq"], adjusted["q"], adjusted["nq_balance"]) == (-299, 0, 1000)
    assert (adjusted["card_code"], adjusted["entry_kind"]) == (CARD, "adjustment")
    assert adjusted["entry_id"] == reply.body["adjustment_id"]
    # the same request again (a retry) changes nothing, so it publishes nothing
    assert call("api_adjust_points", ADMIN, body=body, headers=headers).status in (200, 201)
    assert len(bus.details("points.adjusted")) == 1
