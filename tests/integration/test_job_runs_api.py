"""A program's scheduled runs over the API (`GET /v1/programs/{id}/jobs`, `/jobs/{run_id}`): runs
made by the real JobStarter handler (inline, or queued and worked by the JobWorker), listed newest
first, filtered by job, paged, and opened with their shards."""

from __future__ import annotations

import boto3
import pytest

from loyalty_engine.handlers import jobs as job_handlers
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.tiers.context import job_services
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import call
from tests.support.aws import fresh_caches
from tests.support.jobs import REGION, JobContext, sqs_event, start_event
from tests.support.queues import receive_all

# occurrences of the sample program's calendars (GMT+1): the upgrade every day at 03:00, the
# reconciliation every day at 03:00, the expiry every day at 00:00
UPGRADE = "2026-01-02T02:00:00Z"
RECONCILE_1 = "2026-01-02T02:00:00Z"
EXPIRY = "2026-01-02T23:00:00Z"
RECONCILE_2 = "2026-01-03T02:00:00Z"


def start(job: str, at: str) -> dict:
    return job_handlers.start(start_event(job=job, scheduled_at=at), JobContext())


def runs(query: dict[str, str] | None = None, caller=ADMIN):
    return call("api_list_job_runs", caller, query=query)


def every_page(query: dict[str, str]) -> list[dict]:
    seen, sent = [], dict(query)
    while True:
        reply = runs(sent)
        assert reply.status == 200, reply.body
        assert len(reply.body["runs"]) <= int(query["limit"])
        seen += reply.body["runs"]
        if not reply.body["next_cursor"]:
            return seen
        sent = {**query, "cursor": reply.body["next_cursor"]}


@pytest.fixture
def ran(member):
    """Four completed runs of the sample program, made by the JobStarter (shards inline)."""
    earned = call(
        "api_earn_order",
        SHOP,
        body=order_body(order_id="R-1", amount="600.00", lines=[], ordered_at="2026-01-01T10:00:00Z"),
    )
    assert earned.status == 201, earned.body
    for job, at in (
        ("reconcile", RECONCILE_1),
        ("tier-upgrade", UPGRADE),
        ("expire-points", EXPIRY),
        ("reconcile", RECONCILE_2),
    ):
        assert start(job, at)["state"] == "completed"


def test_before_any_run_the_list_is_empty(member):
    reply = runs()
    assert (reply.status, reply.body) == (200, {"runs": [], "next_cursor": None})


def test_runs_are_listed_newest_first_with_what_they_did(ran):
    reply = runs()
    assert reply.status == 200, reply.body
    listed = reply.body["runs"]
    assert [(r["job"], r["scheduled_at"]) for r in listed] == [
        ("reconcile", RECONCILE_2),
        ("expire-points", EXPIRY),
        ("tier-upgrade", UPGRADE),  # one instant: in the jobs' order
        ("reconcile", RECONCILE_1),
    ]
    assert reply.body["next_cursor"] is None
    upgrade = listed[2]
    assert upgrade["run_id"] == f"tier-upgrade@{UPGRADE}" and upgrade["state"] == "completed"
    assert (upgrade["members"], upgrade["changed"], upgrade["shards_done"], upgrade["shards"]) == (
        1,
        1,
        MEMBER_SHARDS,
        MEMBER_SHARDS,
    )
    assert upgrade["started_at"] and upgrade["completed_at"] >= upgrade["started_at"]
    assert listed[0]["tiers"] == {"2": 1} and listed[0]["drift"] == 0  # reconcile counts Silver
    assert listed[3]["tiers"] == {"1": 1}  # before the upgrade: Blue
    # running the same run again changes nothing and lists nothing more
    assert start("tier-upgrade", UPGRADE)["state"] == "completed"
    assert len(runs().body["runs"]) == 4


def test_a_filter_by_job_and_pages_of_any_size(ran):
    reply = runs({"job": "reconcile"})
    assert [r["scheduled_at"] for r in reply.body["runs"]] == [RECONCILE_2, RECONCILE_1]
    assert runs({"job": "tier-downgrade"}).body == {"runs": [], "next_cursor": None}
    everything = runs().body["runs"]
    for limit in ("1", "2", "3"):
        assert every_page({"limit": limit}) == everything
    assert every_page({"limit": "1", "job": "reconcile"}) == reply.body["runs"]
    unknown = runs({"job": "tier-sideways"})
    assert unknown.status == 422 and unknown.body["code"] == "validation_error", unknown.body
    for cursor in ("bm9wZQ", "MjAyNi0wMS0wMlQwMjowMDowMFojbm9wZQ"):  # "nope", "…#nope"
        bad = runs({"cursor": cursor})
        assert (bad.status, bad.body["code"]) == (422, "invalid_cursor"), bad.body


def test_a_run_opens_with_its_shards(ran):
    reply = call("api_get_job_run", ADMIN)  # the upgrade of 2 January
    assert reply.status == 200, reply.body
    assert reply.body["run_id"] == f"tier-upgrade@{UPGRADE}" and reply.body["changed"] == 1
    shards = reply.body["shard_progress"]
    assert [s["shard"] for s in shards] == list(range(MEMBER_SHARDS))
    assert {s["state"] for s in shards} == {"done"}
    mine = shards[keys.member_shard(CARD)]
    assert (mine["members"], mine["changed"], mine["pages"]) == (1, 1, 1)
    assert sum(s["members"] for s in shards) == 1


def test_unknown_runs_programs_and_keys_are_refused(ran):
    missing = call("api_get_job_run", ADMIN, path={"run_id": "tier-upgrade@2026-01-05T02:00:00Z"})
    assert (missing.status, missing.body["code"]) == (404, "run_not_found"), missing.body
    for bad in ("tier-upgrade@yesterday", "nap@2026-01-02T02:00:00Z", "tier-upgrade"):
        reply = call("api_get_job_run", ADMIN, path={"run_id": bad})
        assert reply.status == 422, reply.body
    for event, path in (
        ("api_list_job_runs", {"program_id": "nope"}),
        ("api_get_job_run", {"program_id": "nope"}),
    ):
        reply = call(event, ADMIN, path=path)
        assert (reply.status, reply.body["code"]) == (404, "program_not_found"), reply.body
        other = call(event, OTHER_GROUP)  # another group has no such program
        assert (other.status, other.body["code"]) == (404, "program_not_found"), other.body
        refused = call(event, SHOP)
        assert (refused.status, refused.body["code"]) == (403, "forbidden"), refused.body


def test_a_running_run_shows_each_shard_as_the_workers_move_it_on(member, clock, monkeypatch):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="loyalty-jobs")["QueueUrl"]
    monkeypatch.setenv("JOB_QUEUE_URL", url)
    fresh_caches()
    default_context().clock = clock
    assert start("tier-upgrade", UPGRADE)["state"] == "running"
    listed = runs().body["runs"]
    assert [(r["state"], r["members"], r["completed_at"], r["shards_done"]) for r in listed] == [
        ("running", None, None, None)
    ]
    detail = call("api_get_job_run", ADMIN).body
    assert {s["state"] for s in detail["shard_progress"]} == {"not_started"}
    messages = receive_all(sqs, url)
    mine = next(m for m in messages if m["shard"] == keys.member_shard(CARD))
    assert job_handlers.work(sqs_event(mine), JobContext()) == {"batchItemFailures": []}
    detail = call("api_get_job_run", ADMIN).body
    states = {s["shard"]: s["state"] for s in detail["shard_progress"]}
    assert states.pop(mine["shard"]) == "done" and set(states.values()) == {"not_started"}
    assert detail["state"] == "running"
    for message in messages:
        if message is not mine:
            assert job_handlers.work(sqs_event(message), JobContext()) == {"batchItemFailures": []}
    closed = runs().body["runs"][0]  # the close rewrote the run item: it is still listed
    assert (closed["state"], closed["members"], closed["shards_done"]) == ("completed", 1, MEMBER_SHARDS)


def test_a_run_with_no_progress_for_30_minutes_is_stalled_until_a_shard_moves_on(member, clock, monkeypatch):
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="loyalty-jobs")["QueueUrl"]
    monkeypatch.setenv("JOB_QUEUE_URL", url)
    fresh_caches()
    default_context().clock = job_services().clock = clock  # the API's and the workers' clock
    assert start("tier-upgrade", UPGRADE)["state"] == "running"
    started = clock.now
    listed = runs().body["runs"][0]
    assert (listed["stalled"], listed["progress_at"]) == (False, started.isoformat().replace("+00:00", "Z"))
    clock.advance(minutes=30)
    assert runs().body["runs"][0]["stalled"] is False  # 30 minutes exactly: not yet
    clock.advance(seconds=1)
    assert runs().body["runs"][0]["stalled"] is True
    detail = call("api_get_job_run", ADMIN).body
    assert (detail["stalled"], detail["state"]) == (True, "running")
    # a redriven message: the shard's worker checkpoints, the run moves on again
    messages = receive_all(sqs, url)
    assert job_handlers.work(sqs_event(messages[0]), JobContext()) == {"batchItemFailures": []}
    listed = runs().body["runs"][0]
    assert listed["stalled"] is False and listed["progress_at"] > started.isoformat().replace("+00:00", "Z")
    clock.advance(minutes=31)
    assert call("api_get_job_run", ADMIN).body["stalled"] is True
    for message in messages[1:]:
        assert job_handlers.work(sqs_event(message), JobContext()) == {"batchItemFailures": []}
    clock.advance(hours=5)
    closed = runs().body["runs"][0]  # a completed run is never stalled
    assert (closed["state"], closed["stalled"], closed["progress_at"]) == ("completed", False, None)
    assert call("api_get_job_run", ADMIN).body["stalled"] is False
