"""The tiers a member held at an instant, from its tier history (late orders earn with them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loyalty_engine.points.tier_history import RunRef, TierChange, TierRef, tiers_at

T0 = datetime(2026, 6, 1, tzinfo=UTC)
BLUE, SILVER, GOLD = (
    TierRef(rank=1, name="Blue"),
    TierRef(rank=2, name="Silver"),
    TierRef(rank=3, name="Gold"),
)


def change(at, previous, new, *, version, cause="upgrade_run", vip_tier=None, vip_tiers=()):
    return TierChange(
        at=at,
        cause=cause,
        previous_tier=previous,
        new_tier=new,
        vip_tier=vip_tier,
        vip_tiers=list(vip_tiers),
        q_points=0,
        run=RunRef(job="tier-upgrade", scheduled_at=at) if cause.endswith("run") else None,
        member_version=version,
    )


HISTORY = [
    change(T0, BLUE, SILVER, version=3),
    change(
        T0 + timedelta(days=10),
        SILVER,
        SILVER,
        version=5,
        cause="vip_grant",
        vip_tier="staff",
        vip_tiers=["staff"],
    ),
    change(T0 + timedelta(days=20), SILVER, GOLD, version=7, vip_tiers=["staff"]),
]


def test_the_state_after_the_last_change_that_had_taken_effect():
    assert tiers_at(HISTORY, 3, ["staff"], T0 + timedelta(days=15)) == (2, ["staff"])
    assert tiers_at(HISTORY, 3, ["staff"], T0 + timedelta(days=20)) == (3, ["staff"])
    assert tiers_at(HISTORY, 3, ["staff"], T0) == (2, [])


def test_before_the_first_change_the_state_it_changed():
    assert tiers_at(HISTORY, 3, ["staff"], T0 - timedelta(seconds=1)) == (1, [])
    granted_first = [
        change(T0, SILVER, SILVER, version=2, cause="vip_grant", vip_tier="club", vip_tiers=["club", "staff"])
    ]
    assert tiers_at(granted_first, 2, ["club", "staff"], T0 - timedelta(days=1)) == (2, ["staff"])
    removed_first = [change(T0, SILVER, SILVER, version=2, cause="vip_remove", vip_tier="club", vip_tiers=[])]
    assert tiers_at(removed_first, 2, [], T0 - timedelta(days=1)) == (2, ["club"])


def test_no_history_is_the_state_now():
    assert tiers_at([], 2, ["staff"], T0) == (2, ["staff"])


def test_changes_count_by_when_they_took_effect_not_by_when_they_were_written():
    # a run replayed late (version 9) for an instant before a later-written change (version 7)
    replayed = [*HISTORY, change(T0 + timedelta(days=5), SILVER, SILVER, version=9, vip_tiers=[])]
    assert tiers_at(replayed, 3, ["staff"], T0 + timedelta(days=6)) == (2, [])
