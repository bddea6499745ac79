"""Members per tier of a program: counted by the daily reconciliation run, read over the API."""

from __future__ import annotations

from datetime import UTC, datetime

from loyalty_engine.tiers.jobs import JobRequest
from tests.integration.conftest import ADMIN, OTHER_GROUP, SHOP, order_body
from tests.support.api import call
from tests.support.jobs import run_in_time

TIER_RUN_AT = datetime(2026, 12, 10, 2, tzinfo=UTC)


def run(job: str, at: datetime):
    summary = run_in_time(JobRequest(group="demo", program_id="club", job=job, scheduled_at=at))
    assert summary.state == "completed", summary
    return summary


def counts() -> dict:
    reply = call("api_get_tier_counts", ADMIN)
    assert reply.status == 200, reply.body
    return reply.body


def test_before_any_reconciliation_every_tier_shows_and_nothing_is_counted(member) -> None:
    body = counts()
    assert body["as_of"] is None and body["members"] == 0
    assert [(t["rank"], t["name"], t["members"]) for t in body["tiers"]] == [
        (1, "Blue", 0),
        (2, "Silver", 0),
        (3, "Gold", 0),
    ]
    assert body["vip_tiers"] == [{"name": "staff", "members": 0}]


def test_the_reconciliation_run_counts_members_per_tier_and_vip_tier(member, clock) -> None:
    for card in ("TC-0001", "TC-0002"):
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
    big = order_body(order_id="BIG", amount="2500.00", ordered_at="2026-12-01T10:00:00Z", lines=[])
    assert call("api_earn_order", SHOP, body=big).status == 201  # CARD: Q enough for Gold
    assert call("api_grant_vip_tier", ADMIN, path={"card_code": "TC-0001"}).status == 200
    run("tier-upgrade", TIER_RUN_AT)
    summary = run("reconcile", datetime(2026, 12, 10, 2, tzinfo=UTC))
    assert summary.tiers == {"1": 2, "3": 1} and summary.vip_tiers == {"staff": 1}

    body = counts()
    assert body["as_of"] == "2026-12-10T02:00:00Z" and body["members"] == 3
    assert [(t["name"], t["members"]) for t in body["tiers"]] == [("Blue", 2), ("Silver", 0), ("Gold", 1)]
    assert body["vip_tiers"] == [{"name": "staff", "members": 1}]

    # enrolments since the run do not move the count; the next night's run does
    assert call("api_enrol_member", SHOP, body={"card_code": "TC-0003"}).status == 201
    assert counts()["members"] == 3
    run("reconcile", datetime(2026, 12, 11, 2, tzinfo=UTC))
    assert counts()["members"] == 4
    # an earlier run replayed late (an operator's run "as of" before) keeps the later count
    run("reconcile", datetime(2026, 12, 9, 2, tzinfo=UTC))
    assert (counts()["as_of"], counts()["members"]) == ("2026-12-11T02:00:00Z", 4)


def test_tier_counts_are_the_callers_group_and_admin_only(member) -> None:
    assert call("api_get_tier_counts", OTHER_GROUP).status == 404  # demo-b has no program club
    refused = call("api_get_tier_counts", SHOP)
    assert refused.status == 403, refused.body
    assert call("api_get_tier_counts", ADMIN, path={"program_id": "nope"}).status == 404
