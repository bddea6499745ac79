"""A tier run writes a page's members 16 at once, but no faster than its shard's index
partition takes (`tiers.run_use_cases.SHARD_INDEX_WCU_S`): every member of a shard has the
same gsi1 partition key, and each member written is copied there."""

from __future__ import annotations

from datetime import UTC, datetime

from loyalty_engine.kernel import pacing
from loyalty_engine.tiers import run_use_cases
from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import SHOP, order_body
from tests.support.api import call
from tests.support.jobs import cards_in_shard, services


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
