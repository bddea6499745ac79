"""Tiers through the API against moto (VIP tiers, the tier history) and the programs' EventBridge
Scheduler schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import call, load_event
from tests.support.aws import fresh_caches
from tests.support.jobs import (
    REGION,
    SAMPLE,
    _history,
)

# ---------------------------------------------------------------- VIP tiers and the tier history


def test_vip_tiers_through_the_api(member, clock):
    granted = call("api_grant_vip_tier", ADMIN)
    assert granted.status == 200, granted.body
    assert granted.body["vip_tiers"] == ["staff"] and granted.body["tier"]["name"] == "Blue"
    history = _history(CARD)
    assert len(history) == 1
    assert history[0] | {"at": None} == {
        "at": None,
        "cause": "vip_grant",
        "previous_tier": {"rank": 1, "name": "Blue"},
        "new_tier": {"rank": 1, "name": "Blue"},
        "vip_tier": "staff",
        "vip_tiers": ["staff"],
        "reason": json.loads(load_event("api_grant_vip_tier")["body"])["reason"],
        "q_points": 0,
        "run": None,
        "member_version": 1,
        "source": "api",
        "import_line": None,
    }
    assert history[0]["at"] == "2026-12-10T12:00:00Z"  # the clock's now
    # the larger multiplier applies to an order placed from then on: staff NQ x2 over Blue's x1;
    # Q stays x1 (an order placed before the grant earns without it, see test_late_orders)
    placed = "2026-12-10T12:00:00Z"
    earned = call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id="VIP-1", amount="100.00", ordered_at=placed, lines=[]),
    )
    assert earned.status == 201, earned.body
    assert (earned.body["earned"]["nq"], earned.body["earned"]["q"]) == (2000, 100)
    again = call("api_grant_vip_tier", ADMIN, body={"reason": "asked twice"})
    assert again.status == 200 and again.body["vip_tiers"] == ["staff"]
    assert len(_history(CARD)) == 1
    unknown = call("api_grant_vip_tier", ADMIN, path={"vip_tier": "gold-club"})
    assert unknown.status == 404 and unknown.body["code"] == "vip_tier_not_found"
    for event in ("api_grant_vip_tier", "api_remove_vip_tier"):
        refused = call(event, SHOP)
        assert refused.status == 403 and refused.body["code"] == "forbidden"
    removed = call("api_remove_vip_tier", ADMIN)
    assert removed.status == 200 and removed.body["vip_tiers"] == []
    newest = _history(CARD)[0]
    assert (newest["cause"], newest["vip_tier"], newest["vip_tiers"]) == ("vip_remove", "staff", [])
    assert newest["reason"] == "left the company" and newest["q_points"] == 100
    assert call("api_remove_vip_tier", ADMIN).status == 200
    assert call("api_remove_vip_tier", ADMIN, query={}).status == 200  # no reason: allowed
    assert [c["cause"] for c in _history(CARD)] == ["vip_remove", "vip_grant"]
    earned = call("api_earn_order", SHOP, body=order_body(order_id="VIP-2", amount="100.00", lines=[]))
    assert earned.body["earned"]["nq"] == 1000
    assert call("api_grant_vip_tier", ADMIN, body={}).status == 422
    assert call("api_grant_vip_tier", ADMIN, body={"reason": ""}).status == 422
    missing = call("api_grant_vip_tier", ADMIN, path={"card_code": "2990000000025"})
    assert missing.status == 404 and missing.body["code"] == "member_not_found"


def test_a_vip_grant_with_a_reason_of_spaces_only_is_refused_as_a_file_line_is(member, clock):
    """DOMAIN.md: VIP tiers are granted "with a reason". A vip file's line whose reason is spaces
    only is skipped (`missing_value`: its cells are trimmed); the API granted it with "   " as the
    reason. It now answers 422 and grants nothing."""
    for reason in ("   ", "\u00a0\t"):
        refused = call("api_grant_vip_tier", ADMIN, body={"reason": reason})
        assert refused.status == 422, refused.body
        assert refused.body["details"][0] | {"message": None} == {
            "in": "body",
            "field": "reason",
            "reason": "blank",
            "message": None,
        }
    assert call("api_get_member", SHOP).body["vip_tiers"] == []
    assert _history(CARD) == []


def test_tier_history_pages_and_unknown_cards(member, clock):
    assert _history(CARD) == []  # a member without changes
    for n in range(3):
        clock.advance(minutes=1)
        assert call("api_grant_vip_tier", ADMIN, body={"reason": f"grant {n}"}).status == 200
        clock.advance(minutes=1)
        assert call("api_remove_vip_tier", ADMIN, query={"reason": f"remove {n}"}).status == 200
    everything = _history(CARD)
    assert [c["member_version"] for c in everything] == [6, 5, 4, 3, 2, 1]  # newest first
    assert [c["reason"] for c in everything][:2] == ["remove 2", "grant 2"]
    pages, query = [], {"limit": "4"}
    while True:
        reply = call("api_get_tier_history", SHOP, query=query)
        assert reply.status == 200, reply.body
        pages.append(reply.body["changes"])
        if not reply.body["next_cursor"]:
            break
        query = {"limit": "4", "cursor": reply.body["next_cursor"]}
    assert [len(page) for page in pages] == [4, 2]
    assert [c for page in pages for c in page] == everything
    unknown = call("api_get_tier_history", SHOP, path={"card_code": "2990000000025"})
    assert unknown.status == 404 and unknown.body["code"] == "member_not_found"
    # with a cursor too (it was a 200 with no changes), and another group's card is not found either
    cursor = {"cursor": call("api_get_tier_history", SHOP, query={"limit": "4"}).body["next_cursor"]}
    for caller, card in ((SHOP, "2990000000025"), (OTHER_GROUP, CARD)):
        unknown = call("api_get_tier_history", caller, path={"card_code": card}, query=cursor)
        assert (unknown.status, unknown.body["code"]) == (404, "member_not_found"), unknown.body
    bad_cursor = call("api_get_tier_history", SHOP, query={"cursor": "bm90LWEtY3Vyc29y"})
    assert bad_cursor.status in (400, 422), bad_cursor.body


# ---------------------------------------------------------------- program schedules

SCHEDULE_GROUP = "loyalty-programs"
TARGET_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:JobStarter"
ROLE_ARN = "arn:aws:iam::123456789012:role/scheduler-invokes-job-starter"


def _schedules(scheduler) -> dict[str, dict]:
    """The group's schedules by job, as Scheduler describes them (minus modification times)."""
    found = {}
    for entry in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]:
        schedule = scheduler.get_schedule(GroupName=SCHEDULE_GROUP, Name=entry["Name"])
        for volatile in ("ResponseMetadata", "LastModificationDate", "CreationDate"):
            schedule.pop(volatile, None)
        found[json.loads(schedule["Target"]["Input"])["job"]] = schedule
    return found


def test_program_schedules_follow_the_program(clock, monkeypatch):
    scheduler = boto3.client("scheduler", region_name=REGION)
    scheduler.create_schedule_group(Name=SCHEDULE_GROUP)
    monkeypatch.setenv("SCHEDULE_GROUP", SCHEDULE_GROUP)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("JOB_TARGET_ARN", TARGET_ARN)
    fresh_caches()
    now = datetime.now(UTC).replace(microsecond=0)  # Scheduler refuses a start date in the past
    clock.now = now
    default_context().clock = clock

    assert call("api_put_program", ADMIN).status == 201
    schedules = _schedules(scheduler)
    assert {job: s["ScheduleExpression"] for job, s in schedules.items()} == {
        "tier-upgrade": "cron(0 3 * * ? *)",
        "tier-downgrade": "cron(0 3 1 1 ? *)",
        "expire-points": "cron(0 0 * * ? *)",
        "reconcile": "cron(0 3 * * ? *)",
    }
    for job, schedule in schedules.items():
        assert schedule["ScheduleExpressionTimezone"] == "Etc/GMT-1"
        assert schedule["State"] == "ENABLED" and schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert json.loads(schedule["Target"]["Input"]) == {
            "group": "demo",
            "program_id": "club",
            "job": job,
            "scheduled_at": "<aws.scheduler.scheduled-time>",
        }
        assert (schedule["Target"]["Arn"], schedule["Target"]["RoleArn"]) == (TARGET_ARN, ROLE_ARN)
        assert schedule.get("EndDate") is None  # the sample program has no end
    assert schedules["tier-downgrade"]["StartDate"] == datetime(2027, 1, 1, 2, tzinfo=UTC)
    assert schedules["tier-upgrade"]["StartDate"] == max(datetime(2026, 1, 2, 2, tzinfo=UTC), now)
    assert schedules["reconcile"]["StartDate"] == max(datetime(2026, 1, 1, 2, tzinfo=UTC), now)

    assert call("api_put_program", ADMIN).status == 200  # replayed: the same schedules
    assert _schedules(scheduler) == schedules

    simple = {k: v for k, v in SAMPLE.items() if k != "tier_settings"} | {"kind": "simple"}
    assert call("api_put_program", ADMIN, body=simple).status == 200
    after = _schedules(scheduler)
    assert set(after) == {"expire-points", "reconcile"}  # the tier schedules are deleted
    assert after == {job: schedules[job] for job in after}
    assert call("api_put_program", ADMIN, body=simple).status == 200
    assert _schedules(scheduler) == after

    ending = SAMPLE | {"ends_at": "2030-01-01T00:00:00+01:00"}
    assert call("api_put_program", ADMIN, body=ending).status == 200
    schedules = _schedules(scheduler)
    ends = {job: s.get("EndDate") for job, s in schedules.items()}
    end = datetime(2029, 12, 31, 23, tzinfo=UTC)
    assert ends == {"tier-upgrade": end, "tier-downgrade": end, "expire-points": None, "reconcile": None}
