"""Scheduled jobs against moto through their handlers, fed by a real (moto) queue: a job runs once
whatever is duplicated, bad messages, failing shards, runs that must not happen, out-of-time
workers and two workers on one shard."""

from __future__ import annotations

import json

import boto3
import pytest

from loyalty_engine.handlers import jobs as job_handlers
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.tiers.context import job_services
from loyalty_engine.tiers.jobs import ShardMessage
from loyalty_engine.tiers.run_use_cases import TIME_MARGIN_MS, work_shard
from tests.integration.conftest import CARD, SHOP, order_body
from tests.support.api import call
from tests.support.aws import fresh_caches
from tests.support.jobs import (
    REGION,
    JobContext,
    _history,
    cards_in_shard,
    crash_after,
    job_store,
    services,
    sqs_event,
    start_event,
)
from tests.support.queues import receive_all

# ---------------------------------------------------------------- the handlers and the job queue

FIRST_UPGRADE = "2026-01-02T02:00:00Z"  # scheduler_job_start.json: 03:00 GMT+1 on 2 January


@pytest.fixture
def job_queue(clock, monkeypatch):
    """The job queue in moto, named in the functions' environment (settings rebuilt)."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="loyalty-jobs")["QueueUrl"]
    monkeypatch.setenv("JOB_QUEUE_URL", url)
    fresh_caches()
    default_context().clock = clock
    return sqs, url


def _earn_before_first_upgrade(card: str, amount: str) -> None:
    body = order_body(order_id=f"E-{card}", amount=amount, ordered_at="2026-01-01T10:00:00Z", lines=[])
    reply = call("api_earn_order", SHOP, path={"card_code": card}, body=body)
    assert reply.status == 201, reply.body


def test_the_handlers_run_a_job_once_whatever_is_duplicated(member, job_queue):
    sqs, url = job_queue
    cards = [CARD, "HDL-0001", "HDL-0002"]
    for card in cards[1:]:
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
    _earn_before_first_upgrade(CARD, "600.00")  # Silver
    _earn_before_first_upgrade(cards[1], "2000.00")  # Gold
    _earn_before_first_upgrade(cards[2], "499.99")  # stays Blue
    started = [job_handlers.start(start_event(), JobContext()) for _ in range(2)]  # a duplicate invocation
    assert [s["state"] for s in started] == ["running", "running"]
    messages = receive_all(sqs, url)
    assert len(messages) == 2 * MEMBER_SHARDS
    assert sorted(m["shard"] for m in messages) == sorted(2 * list(range(MEMBER_SHARDS)))
    assert {m["scheduled_at"] for m in messages} == {FIRST_UPGRADE}
    for body in messages:
        for _ in range(2):  # every message delivered twice
            assert job_handlers.work(sqs_event(body), JobContext()) == {"batchItemFailures": []}
    assert receive_all(sqs, url) == []  # nothing left over, no continuation
    done = job_handlers.start(start_event(), JobContext())
    assert done["state"] == "completed"
    assert (done["members"], done["changed"], done["shards_done"]) == (3, 2, MEMBER_SHARDS)
    assert receive_all(sqs, url) == []  # a completed run queues nothing
    assert [c["new_tier"]["name"] for c in _history(CARD)] == ["Silver"]
    assert [c["new_tier"]["name"] for c in _history(cards[1])] == ["Gold"]
    assert _history(cards[2]) == []
    assert _history(CARD)[0]["run"] == {"job": "tier-upgrade", "scheduled_at": FIRST_UPGRADE}


def test_unreadable_messages_are_dropped_not_retried(member, job_queue):
    sqs, url = job_queue
    bad = [
        "not json",
        json.dumps({"group": "demo"}),
        json.dumps(
            {
                "group": "demo",
                "program_id": "club",
                "job": "tier-upgrade",
                "scheduled_at": FIRST_UPGRADE,
                "shard": MEMBER_SHARDS,
            }
        ),
        json.dumps([1, 2]),
    ]
    for body in bad:
        assert job_handlers.work(sqs_event(body), JobContext()) == {"batchItemFailures": []}
    assert receive_all(sqs, url) == []
    assert _history(CARD) == []


def test_a_shard_that_fails_is_reported_for_retry_and_resumes(member, job_queue):
    sqs, url = job_queue
    _earn_before_first_upgrade(CARD, "600.00")
    job_handlers.start(start_event(), JobContext())
    message = next(m for m in receive_all(sqs, url) if m["shard"] == keys.member_shard(CARD))
    store = job_services().jobs
    store.put_history = crash_after(store.put_history, 0)  # the member is written, its history not
    event = sqs_event(message)
    try:
        answer = job_handlers.work(event, JobContext())
    finally:
        del store.put_history  # the class's method again
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert job_handlers.work(sqs_event(message), JobContext()) == {"batchItemFailures": []}
    assert [c["cause"] for c in _history(CARD)] == ["upgrade_run"]


@pytest.mark.parametrize(
    "event",
    [
        {"group": "demo", "program_id": "club", "job": "tier-sideways", "scheduled_at": FIRST_UPGRADE},
        {
            "group": "demo",
            "program_id": "club",
            "job": "tier-upgrade",
            "scheduled_at": "<aws.scheduler.scheduled-time>",
        },
        {"group": "demo", "program_id": "club", "job": "tier-upgrade"},
        {"group": "Demo!", "program_id": "club", "job": "tier-upgrade", "scheduled_at": FIRST_UPGRADE},
        {"group": "demo", "program_id": "club", "job": "tier-upgrade", "scheduled_at": FIRST_UPGRADE, "x": 1},
    ],
)
def test_an_invalid_schedule_input_is_refused_not_retried(member, job_queue, event):
    sqs, url = job_queue
    assert job_handlers.start(event, JobContext()) == {"state": "invalid"}
    assert receive_all(sqs, url) == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"scheduled_at": "2026-01-02T02:30:00Z"}, "not_an_occurrence"),
        ({"scheduled_at": "2026-01-02T03:00:00+01:00", "job": "tier-downgrade"}, "not_an_occurrence"),
        ({"program_id": "nope"}, "program_not_found"),
        ({"scheduled_at": "2025-12-30T02:00:00Z"}, "program_not_active"),
    ],
)
def test_a_run_that_must_not_happen_is_skipped(member, job_queue, overrides, reason):
    sqs, url = job_queue
    _earn_before_first_upgrade(CARD, "600.00")
    summary = job_handlers.start(start_event(**overrides), JobContext())
    assert (summary["state"], summary["reason"]) == ("skipped", reason)
    assert receive_all(sqs, url) == []
    assert _history(CARD) == []


def _single_page_reads(monkeypatch, size: int = 1) -> None:
    """Pages of `size` members: the job functions' store reads, made small."""
    store = job_services().jobs
    read = store.members_page
    monkeypatch.setattr(
        store,
        "members_page",
        lambda group, program_id, shard, cursor: read(group, program_id, shard, cursor, limit=size),
    )


def test_a_worker_out_of_time_queues_a_continuation_that_finishes_the_shard(member, job_queue, monkeypatch):
    sqs, url = job_queue
    shard = keys.member_shard(CARD)
    cards = [CARD, *[c for c in cards_in_shard(shard, 3, "TIME") if c != CARD][:2]]
    for card in cards:
        if card != CARD:
            assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
        _earn_before_first_upgrade(card, "700.00")
    _single_page_reads(monkeypatch)
    job_handlers.start(start_event(), JobContext())
    messages = {m["shard"]: m for m in receive_all(sqs, url)}
    clock_ms = iter([TIME_MARGIN_MS + 60_000])  # one page's worth of time, then too little

    def remaining() -> int:
        return next(clock_ms, TIME_MARGIN_MS - 1)

    assert job_handlers.work(sqs_event(messages[shard]), JobContext(remaining)) == {"batchItemFailures": []}
    continuation = receive_all(sqs, url)
    assert continuation == [messages[shard]]
    request = ShardMessage.model_validate(messages[shard])
    progress = default_context().jobs.shard_progress(request, shard)
    assert (progress.pages, progress.done, progress.changed) == (1, False, 1)
    assert sum(len(_history(card)) for card in cards) == 1
    # no time at all: nothing done, the same message queued again
    assert job_handlers.work(sqs_event(continuation[0]), JobContext(TIME_MARGIN_MS - 1)) == {
        "batchItemFailures": []
    }
    assert receive_all(sqs, url) == continuation
    assert default_context().jobs.shard_progress(request, shard) == progress
    # a later delivery with time finishes the shard; the other shards close the run
    job_handlers.work(sqs_event(continuation[0]), JobContext())
    for other, body in messages.items():
        if other != shard:
            job_handlers.work(sqs_event(body), JobContext())
    progress = default_context().jobs.shard_progress(request, shard)
    assert progress.done and progress.members == 3 and progress.changed == 3
    assert [len(_history(card)) for card in cards] == [1, 1, 1]
    done = job_handlers.start(start_event(), JobContext())
    assert (done["state"], done["changed"], done["members"]) == ("completed", 3, 3)


def test_two_workers_on_one_shard_never_both_move_it(member, job_queue):
    sqs, url = job_queue
    shard = keys.member_shard(CARD)
    cards = [CARD, next(c for c in cards_in_shard(shard, 2, "RACE") if c != CARD)]
    assert call("api_enrol_member", SHOP, body={"card_code": cards[1]}).status == 201
    for card in cards:
        _earn_before_first_upgrade(card, "2100.00")
    job_handlers.start(start_event(), JobContext())
    messages = {m["shard"]: ShardMessage.model_validate(m) for m in receive_all(sqs, url)}
    message = messages[shard]
    saved: list[tuple[int | None, bool]] = []
    store_a = job_store()
    real_save = store_a.save_progress

    def save_after_the_other_worker(request, progress, expected_pages):
        if expected_pages == 0:  # worker A wrote its first page: worker B does the whole shard now
            work_shard(services(), message, lambda: 1e9)
        result = real_save(request, progress, expected_pages)
        saved.append((expected_pages, result))
        return result

    store_a.save_progress = save_after_the_other_worker
    work_shard(services(store_a), message, lambda: 1e9)
    assert saved == [(None, True), (0, False)]  # A lost: its first page's checkpoint did not move the shard
    progress = default_context().jobs.shard_progress(message, shard)
    assert progress.done and progress.pages == 1 and progress.changed == 2
    assert [[c["new_tier"]["name"] for c in _history(card)] for card in cards] == [["Gold"], ["Gold"]]
    for other, body in messages.items():
        if other != shard:
            work_shard(services(), body, lambda: 1e9)
    summary, _ = default_context().jobs.run_items(message)
    assert (summary.state, summary.changed) == ("completed", 2)
