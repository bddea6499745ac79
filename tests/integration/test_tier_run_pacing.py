"""A tier run, and a points expiry, write a page's members 16 at once, but no faster than its
shard's index partition takes (`tiers.run_use_cases.SHARD_INDEX_WCU_S`): every member of a shard
has the same gsi1 partition key, and each member written is copied there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loyalty_engine.kernel import pacing
from loyalty_engine.tiers import run_use_cases
from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import SHOP, order_body
from tests.support.api import call
from tests.support.jobs import cards_in_shard, run_in_time, services


class PacingClock:
    """The pacer's clock: moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_page_of_changes_is_written_no_faster_than_the_shards_index_takes(program, monkeypatch):
    cards = cards_in_shard(3, 8, "PACE")
    for card in cards:
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
        body = order_body(order_id=f"O-{card}", amount="600.00", ordered_at="2026-01-01T10:00:00Z", lines=[])
        assert call("api_earn_order", SHOP, path={"card_code": card}, body=body).status == 201
    clock = PacingClock()
    monkeypatch.setattr(pacing, "now", clock.time)
    monkeypatch.setattr(pacing, "sleep", clock.sleep)
    monkeypatch.setattr(run_use_cases, "SHARD_INDEX_WCU_S", 2)  # write units a second

    summary = run_now(
        services(),
        JobRequest(
            group="demo",
            program_id="club",
            job="tier-upgrade",
            scheduled_at=datetime(2026, 1, 2, 2, tzinfo=UTC),
        ),
    )

    assert summary.changed == len(cards)
    for card in cards:
        assert call("api_get_member", SHOP, path={"card_code": card}).body["tier"]["name"] == "Silver"
    # eight member writes of one write unit each (items under 1 KB), two a second: the last
    # one goes 3.5 s after the first, whatever the threads
    assert clock.now == 3.5
    assert len(clock.sleeps) == 7


def test_an_expiry_writes_its_members_at_once_and_no_faster_than_the_shards_index_takes(
    program, clock, monkeypatch
):
    cards = cards_in_shard(5, 8, "EXPACE")
    for card in cards:  # each earns 100 points on 10 March 2026, expired on 10 March 2027
        assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
        body = order_body(order_id=f"O-{card}", amount="100.00", ordered_at="2026-03-10T12:00:00Z", lines=[])
        assert call("api_earn_order", SHOP, path={"card_code": card}, body=body).status == 201
    run_at = datetime(2027, 3, 10, 23, tzinfo=UTC)  # midnight GMT+1 after the expiry
    clock.now = run_at + timedelta(hours=1)
    pace = PacingClock()
    monkeypatch.setattr(pacing, "now", pace.time)
    monkeypatch.setattr(pacing, "sleep", pace.sleep)
    monkeypatch.setattr(run_use_cases, "SHARD_INDEX_WCU_S", 2)
    pages: list[tuple[int, int]] = []  # (members, threads) of each page that had members

    def at_once(work, items, threads):
        items = list(items)
        pages.extend([(len(items), threads)] if items else [])
        return [work(item) for item in items]

    monkeypatch.setattr(run_use_cases, "in_parallel", at_once)

    summary = run_in_time(
        JobRequest(group="demo", program_id="club", job="expire-points", scheduled_at=run_at)
    )

    assert (summary.changed, summary.members) == (len(cards), len(cards))
    assert pages == [(len(cards), run_use_cases.MEMBER_WRITERS)]  # the shard's page: all at once
    for card in cards:
        balances = call("api_get_member", SHOP, path={"card_code": card}).body["balances"]
        assert balances["nq"]["available"] == 0 and balances["q"]["valid"] == 0
    # eight member writes of one write unit each, two a second: the last 3.5 s after the first
    assert pace.now == 3.5
