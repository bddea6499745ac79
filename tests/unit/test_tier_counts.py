"""Members per tier: the tally of a page of members and the view the API answers (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from loyalty_engine.points.members import Member
from loyalty_engine.points.tier_counts import NO_TIER, TierTally, add, counts_view, tally
from tests.support.tiers import calendar_program

AT = datetime(2027, 3, 1, 2, tzinfo=UTC)


def member(card: str, rank: int | None, vips: list[str] | None = None) -> Member:
    return Member(
        card_code=card,
        program_id="club",
        subscribed_at=AT,
        created_at=AT,
        tier_rank=rank,
        vip_tiers=vips or [],
    )


def test_a_page_is_tallied_by_rank_and_vip_tier_and_pages_add_up() -> None:
    by_rank, by_vip = tally(
        [member("A", 1), member("B", 1, ["staff"]), member("C", None, ["staff", "press"])]
    )
    assert by_rank == {"1": 2, NO_TIER: 1} and by_vip == {"staff": 2, "press": 1}
    assert add({"1": 2, NO_TIER: 1}, {"1": 3, "2": 1}) == {"1": 5, "2": 1, NO_TIER: 1}


def test_the_view_names_every_tier_of_the_program_and_keeps_ranks_it_no_longer_has() -> None:
    counted = TierTally(as_of=AT, members=6, by_rank={"1": 3, "4": 2, NO_TIER: 1}, by_vip_tier={"gone": 1})
    view = counts_view(calendar_program(vip_tiers=[{"name": "staff", "nq_multiplier": "2"}]), counted)
    assert [(t.rank, t.name, t.members) for t in view.tiers] == [
        (1, "Blue", 3),
        (4, None, 2),
        (None, None, 1),
    ]
    assert [(v.name, v.members) for v in view.vip_tiers] == [("staff", 0), ("gone", 1)]
    assert (view.as_of, view.members) == (AT, 6)


def test_nothing_counted_yet() -> None:
    view = counts_view(calendar_program(), None)
    assert view.as_of is None and view.members == 0
    assert [(t.rank, t.members) for t in view.tiers] == [(1, 0)] and view.vip_tiers == []
