"""Scheduled jobs against moto: tier runs (against the rules, idempotent, crash-safe), points
expiry, reconciliation, the job handlers fed by a real (moto) queue, VIP tiers and the tier
history through the API, and the programs' EventBridge Scheduler schedules."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty_engine.handlers import jobs as job_handlers
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.dynamo import from_item, to_item
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.points.lots import pack, unpack
from loyalty_engine.tiers.context import job_services
from loyalty_engine.tiers.jobs import JobRequest, ShardMessage
from loyalty_engine.tiers.run_use_cases import TIME_MARGIN_MS, work_shard
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import call, load_event
from tests.support.aws import fresh_caches, moto_table
from tests.support.clock import FakeClock
from tests.support.jobs import (
    DOWNGRADE_AT,
    SAMPLE,
    Crash,
    Group,
    JobContext,
    cards_in_shard,
    crash_after,
    emf_metrics,
    history_as_changes,
    job_store,
    reference_ranks,
    run_in_time,
    services,
    sqs_event,
    start_event,
)
from tests.support.lots import lot_items
from tests.support.queues import receive_all

REGION = "eu-west-1"
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
AFTER_EARNS = datetime(2026, 12, 31, 12, tzinfo=UTC)


def upgrade_day(day: int) -> datetime:
    """The upgrade run of the day (daily at 03:00 GMT+1 from 2 January 2026)."""
    return datetime(2026, 1, 2, 2, tzinfo=UTC) + timedelta(days=day)


@contextmanager
def fresh_world(clock_at: datetime = AFTER_EARNS):
    """An empty table in a moto of its own (a Hypothesis example's clean state)."""
    with moto_table():
        fresh_caches()
        default_context().clock = FakeClock(clock_at)
        try:
            yield
        finally:
            fresh_caches()


# ---------------------------------------------------------------- tier runs against the rules

earn_lists = st.lists(
    st.tuples(
        st.integers(0, 364 * 24 * 60).map(lambda minutes: YEAR_START + timedelta(minutes=minutes)),
        st.integers(0, 250_000).map(lambda cents: Decimal(cents) / 100),
    ),
    max_size=3,
)
run_lists = st.lists(
    st.one_of(
        st.integers(0, 728).map(lambda day: ("tier-upgrade", upgrade_day(day))),
        st.sampled_from(
            [
                ("tier-downgrade", DOWNGRADE_AT),
                ("tier-downgrade", DOWNGRADE_AT.replace(year=2028)),
                ("tier-upgrade", DOWNGRADE_AT),
            ]
        ),
    ),
    min_size=1,
    max_size=3,
    unique=True,
).map(lambda runs: sorted(runs, key=lambda run: (run[1], run[0])))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(histories=st.lists(earn_lists, min_size=1, max_size=4), runs=run_lists)
def test_tier_runs_store_what_the_rules_say_and_change_nothing_when_run_again(histories, runs):
    with fresh_world():
        group = Group("demo")
        cards = [f"HYP-{n:04d}" for n in range(len(histories))]
        for card, earns in zip(cards, histories, strict=True):
            group.enrol(card)
            for n, (ordered_at, amount) in enumerate(earns):
                group.earn(card, f"O-{n}", amount, ordered_at)
        summaries = [group.run(job, at) for job, at in runs]
        assert all(summary.state == "completed" for summary in summaries), summaries
        expected = {card: reference_ranks(earns, runs) for card, earns in zip(cards, histories, strict=True)}
        tiers = {card: group.rank(card) for card in cards}
        histories_seen = {card: group.history(card) for card in cards}
        assert tiers == {card: rank for card, (rank, _) in expected.items()}
        for card, (_, changes) in expected.items():
            assert history_as_changes(histories_seen[card]) == changes, card
        assert sum(s.changed for s in summaries) == sum(len(changes) for _, changes in expected.values())
        assert all(s.members == len(cards) and s.shards_done == MEMBER_SHARDS for s in summaries)

        again = [group.run(job, at) for job, at in runs]
        assert again == summaries  # the completed runs, found again
        for job, at in runs:  # and the members' shards once more, as redelivered messages would
            for shard in {keys.member_shard(card) for card in cards}:
                message = ShardMessage(**group.request(job, at).model_dump(), shard=shard)
                work_shard(services(), message, lambda: 1e9)
        assert {card: group.rank(card) for card in cards} == tiers
        assert {card: group.history(card) for card in cards} == histories_seen


# ---------------------------------------------------------------- crashes

CRASH_CARDS = cards_in_shard(5, 5, "CRASH")  # one shard: three pages of two
OTHER_CARDS = [*cards_in_shard(6, 1, "CRASH"), *cards_in_shard(7, 1, "CRASH")]
UPGRADE_AT = datetime(2026, 12, 1, 2, tzinfo=UTC)
LAST_DOWNGRADE_AT = datetime(2028, 1, 1, 2, tzinfo=UTC)  # every 2026 point has expired by then
# EUR spent per card in February 2026 (before the upgrade), and in November 2027 (before the
# downgrade, earning Q points at the tier's multiplier: Silver 2, Gold 3)
EARLY = {CRASH_CARDS[0]: "2100", CRASH_CARDS[1]: "600", CRASH_CARDS[2]: "100", CRASH_CARDS[3]: "1700"}
EARLY |= {CRASH_CARDS[4]: "2500"} | {card: "2000" for card in OTHER_CARDS}
LATE = {CRASH_CARDS[3]: "450", CRASH_CARDS[4]: "800"}  # 900 Q at Silver, 2400 Q at Gold: they stay
# after the upgrade: Gold, Silver, Blue, Silver, Gold (others Gold); after the downgrade:
EXPECTED_RANKS = [2, 1, 1, 2, 3]  # (others Silver)
EXPECTED_CHANGES = [2, 2, 0, 1, 1]


def _earn_early(group: Group, clock: FakeClock) -> None:
    clock.now = datetime(2026, 12, 31, 12, tzinfo=UTC)
    for card, amount in EARLY.items():
        group.enrol(card)
        group.earn(card, "O-early", amount, datetime(2026, 2, 1, 12, tzinfo=UTC))


def _earn_late(group: Group, clock: FakeClock) -> None:
    clock.now = datetime(2027, 12, 31, 12, tzinfo=UTC)
    for card, amount in LATE.items():
        group.earn(card, "O-late", amount, datetime(2027, 11, 1, 12, tzinfo=UTC))


def _is_page_checkpoint(request, progress, expected_pages):
    return expected_pages is not None


CRASH_POINTS = [
    ("put_member", 1, None),  # mid-page: one member written, not the other
    ("put_member", 3, None),  # mid second page, after a checkpoint
    ("put_history", 0, None),  # between the first page's member writes and its history
    ("put_history", 1, None),  # the same on the second page
    ("save_progress", 0, _is_page_checkpoint),  # between a page's writes and its checkpoint
    ("save_progress", 2, _is_page_checkpoint),
    ("complete_run", 0, None),  # every shard done, the run not closed
]
CRASH_RUNS = [("tier-upgrade", UPGRADE_AT), ("tier-downgrade", LAST_DOWNGRADE_AT)]


@pytest.mark.parametrize(
    ("method", "calls", "when"), CRASH_POINTS, ids=lambda value: getattr(value, "__name__", str(value))
)
def test_a_crashed_run_run_again_ends_as_a_clean_run(clock, method, calls, when):
    """Two groups fed alike: `clean` runs plainly; `crashed` crashes, then runs again."""
    cards = [*CRASH_CARDS, *OTHER_CARDS]
    clean, crashed = Group("clean"), Group("crashed")
    for group in (clean, crashed):
        _earn_early(group, clock)
    for job, at in CRASH_RUNS:
        if job == "tier-downgrade":
            for group in (clean, crashed):
                _earn_late(group, clock)
        clean_summary = clean.run(job, at, jobs=job_store(page_size=2))
        store = job_store(page_size=2)
        setattr(store, method, crash_after(getattr(store, method), calls, when))
        with pytest.raises(Crash):
            crashed.run(job, at, jobs=store)
        summary = crashed.run(job, at, jobs=job_store(page_size=2))
        assert summary.state == "completed", summary
        assert (summary.members, summary.shards_done) == (len(cards), MEMBER_SHARDS)
        assert summary.changed == clean_summary.changed  # members changed by either try, once
    assert [clean.rank(card) for card in CRASH_CARDS] == EXPECTED_RANKS
    assert [clean.rank(card) for card in OTHER_CARDS] == [2, 2]
    assert {card: crashed.rank(card) for card in cards} == {card: clean.rank(card) for card in cards}
    assert [len(clean.history(card)) for card in CRASH_CARDS] == EXPECTED_CHANGES
    for card in cards:  # exactly one entry per change: the clean run's entries
        assert crashed.history(card) == clean.history(card), card


# ---------------------------------------------------------------- points expiry


def test_expire_points_removes_what_expired_once(member, clock):
    group_cards = [CARD, "EXP-0001", "EXP-0002"]
    for card in group_cards[1:]:
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
    ordered = datetime(2026, 3, 10, 12, tzinfo=UTC)
    for card in group_cards[:2]:  # these two expire on 10 March 2027 at 12:00
        body = order_body(order_id="OLD", amount="100.00", ordered_at=ordered.isoformat(), lines=[])
        assert call("api_earn_order", SHOP, path={"card_code": card}, body=body).status == 201
    for card in group_cards:  # valid until the end of 2027
        body = order_body(order_id="NEW", amount="30.00", ordered_at="2026-12-01T10:00:00Z", lines=[])
        assert call("api_earn_order", SHOP, path={"card_code": card}, body=body).status == 201
    ledgers_before = {card: _ledger(card) for card in group_cards}
    run_at = datetime(2027, 3, 10, 23, tzinfo=UTC)  # midnight GMT+1 after the expiry
    clock.now = run_at + timedelta(hours=1)
    # the first try dies after a member's expiry is written, before its page's checkpoint
    store = job_store()
    store.save_progress = crash_after(
        store.save_progress, 0, lambda request, progress, expected_pages: progress.changed > 0
    )
    with pytest.raises(Crash):
        _run("expire-points", run_at, jobs=store)
    summary = _run("expire-points", run_at)
    # (summary.changed is 1 here, not 2: the retry cannot tell the first try's expiry from none)
    assert summary.state == "completed" and summary.members == 3
    for card in group_cards:
        added = _ledger(card)[: len(_ledger(card)) - len(ledgers_before[card])]
        view = call("api_get_member", SHOP, path={"card_code": card}).body
        if card in group_cards[:2]:
            assert [entry["kind"] for entry in added] == ["expire"]
            assert (added[0]["nq"], added[0]["q"]) == (-1000, -100)
            assert added[0]["at"] == "2027-03-10T12:00:00Z"
        else:
            assert added == []
        assert view["balances"]["nq"]["available"] == 300 and view["balances"]["q"]["valid"] == 30
    after = {card: _ledger(card) for card in group_cards}
    again = _run("expire-points", run_at)
    assert again == summary
    next_day = _run("expire-points", run_at + timedelta(days=1))
    assert next_day.changed == 0
    assert {card: _ledger(card) for card in group_cards} == after


def _ledger(card: str) -> list[dict]:
    reply = call("api_get_ledger", SHOP, path={"card_code": card}, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return reply.body["entries"]


def _run(job, at, jobs=None):
    return run_in_time(JobRequest(group="demo", program_id="club", job=job, scheduled_at=at), jobs)


# ---------------------------------------------------------------- reconciliation


def _corrupt_lots(table, card: str, points: int) -> None:
    """Write the member's first lot with other points, as a bad write would (no ledger entry)."""
    client, name = table
    chunks = list(lot_items(card, dynamodb=client, table=name).values())
    values = from_item(chunks[0])
    lots = unpack(values["lots"])
    lots[0] = lots[0].model_copy(update={"points": points})
    client.put_item(TableName=name, Item=to_item({**values, "lots": pack(lots)}))


def _reconcile_world(table):
    cards = [CARD, "REC-0001", "REC-0002"]
    for card in cards[1:]:
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
    for card in cards:
        body = order_body(order_id="R-1", amount="42.00", ordered_at="2026-11-01T10:00:00Z", lines=[])
        assert call("api_earn_order", SHOP, path={"card_code": card}, body=body).status == 201
    burn = call("api_burn_points", SHOP, path={"card_code": cards[1]}, body={"burn_id": "B-1", "points": 5})
    assert burn.status == 201, burn.body
    # a reward bought with an Idempotency-Key: its IDEM# record lies among the ledger entries' keys
    free = {**json.loads(load_event("api_put_reward")["body"]), "nqp_value": 0}
    assert call("api_put_reward", ADMIN, body=free).status == 201
    bought = call("api_buy_reward", SHOP, path={"card_code": cards[1]})
    assert bought.status == 201, bought.body
    return cards


def test_reconcile_finds_no_drift_in_a_healthy_group(member, clock, table):
    _reconcile_world(table)
    summary = _run("reconcile", datetime(2026, 12, 10, 2, tzinfo=UTC))
    assert summary.state == "completed" and summary.drift == 0 and summary.members == 3


def test_reconcile_counts_the_drift_and_the_handler_emits_it_once(member, clock, table, monkeypatch, capsys):
    cards = _reconcile_world(table)
    _corrupt_lots(table, cards[2], 7)
    summary = _run("reconcile", datetime(2026, 12, 10, 2, tzinfo=UTC))
    assert summary.drift == 1 and summary.changed == 0
    # the same through the handlers: start, then every shard's message
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="loyalty-jobs")["QueueUrl"]
    monkeypatch.setenv("JOB_QUEUE_URL", url)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    fresh_caches()
    default_context().clock = clock
    job_handlers.metrics.clear_metrics()
    capsys.readouterr()
    at = "2026-12-11T02:00:00Z"
    state = job_handlers.start(start_event(job="reconcile", scheduled_at=at), JobContext())
    assert state["state"] == "running"
    for body in receive_all(sqs, url):
        assert job_handlers.work(sqs_event(body), JobContext()) == {"batchItemFailures": []}
    again = job_handlers.start(start_event(job="reconcile", scheduled_at=at), JobContext())
    assert again["state"] == "completed" and again["drift"] == 1
    emitted = list(emf_metrics(capsys.readouterr().out))
    assert [value for name, value in emitted if name == "BalanceDrift"] == [1]
    assert [value for name, value in emitted if name == "JobRunsCompleted"] == [1]


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


def _history(card: str) -> list[dict]:
    reply = call("api_get_tier_history", SHOP, path={"card_code": card}, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return reply.body["changes"]


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
