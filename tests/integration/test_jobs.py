"""Scheduled jobs against moto: tier runs (against the rules, idempotent, crash-safe), points
expiry and reconciliation. The job handlers: test_jobs_handlers.py; the API and the schedules:
test_jobs_api.py."""

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
from loyalty_engine.tiers import run_use_cases
from loyalty_engine.tiers.jobs import JobRequest, ShardMessage
from loyalty_engine.tiers.run_use_cases import work_shard
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import call, load_event
from tests.support.aws import fresh_caches, moto_table
from tests.support.clock import FakeClock
from tests.support.jobs import (
    DOWNGRADE_AT,
    REGION,
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


def test_reconcile_checks_a_pages_members_at_once_and_counts_each_drift(member, clock, table, monkeypatch):
    cards = cards_in_shard(2, 5, "DRIFT")
    for card in cards:
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
        body = order_body(order_id="R-1", amount="42.00", ordered_at="2026-11-01T10:00:00Z", lines=[])
        assert call("api_earn_order", SHOP, path={"card_code": card}, body=body).status == 201
    for card in cards[:3]:
        _corrupt_lots(table, card, 7)
    pages = []
    real = run_use_cases.in_parallel
    monkeypatch.setattr(
        run_use_cases,
        "in_parallel",
        lambda work, items, threads: pages.append((len(items), threads)) or real(work, items, threads),
    )
    summary = _run("reconcile", datetime(2026, 12, 10, 2, tzinfo=UTC))
    assert (summary.drift, summary.changed) == (3, 0)
    assert (len(cards), run_use_cases.MEMBER_WRITERS) in pages  # the shard's five members at once
