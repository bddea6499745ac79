"""A missed upgrade run replayed after later runs (tiers.rules.late_upgrade): written into the
history at its instant when what happened since agrees with it, else nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from loyalty_engine.points.tier_history import RunRef, TierCause, TierChange, TierRef, tiers_at
from loyalty_engine.tiers.rules import apply_change, apply_late, decide_run, late_upgrade
from tests.support.tiers import START, member, program, tiers

PROGRAM = program(tiers((0, 0), (500, 400), (2000, 1500)))
T1 = START + timedelta(days=2)  # the missed run
T2 = START + timedelta(days=4)  # the run that came after it


def ref(rank: int | None) -> TierRef | None:
    return TierRef(rank=rank, name=f"T{rank}") if rank else None


def entry(
    at: datetime, before: int | None, after: int | None, version: int, cause: TierCause = "upgrade_run"
):
    job = "tier-upgrade" if cause == "upgrade_run" else "tier-downgrade"
    run = RunRef(job=job, scheduled_at=at) if cause in ("upgrade_run", "downgrade_run") else None
    return TierChange(
        at=at,
        cause=cause,
        previous_tier=ref(before),
        new_tier=ref(after),
        q_points=0,
        run=run,
        member_version=version,
    )


def test_the_late_run_takes_effect_at_its_instant_from_the_tier_held_then():
    silver_since_t2 = member(2, marks={"tier-upgrade": T2}).model_copy(update={"version": 3})
    history = [entry(T2, 1, 2, 3)]
    assert decide_run(PROGRAM, silver_since_t2, "tier-upgrade", T1, None, 600) is None
    change = late_upgrade(PROGRAM, silver_since_t2, history, T1, 600)
    assert change is not None
    assert (change.at, change.previous_tier, change.new_tier) == (T1, ref(1), ref(2))
    assert (change.run, change.member_version) == (RunRef(job="tier-upgrade", scheduled_at=T1), 4)
    after = apply_late(silver_since_t2, change)
    assert (after.tier_rank, after.tier_marks, after.version) == (2, {"tier-upgrade": T2}, 4)
    assert after.run_changes == silver_since_t2.run_changes  # the later run's, for its retry
    # replayed again: its entry is in the history, nothing more is written
    assert late_upgrade(PROGRAM, after, [*history, change], T1, 600) is None


def test_nothing_when_the_points_then_reached_no_higher_tier():
    silver = member(2, marks={"tier-upgrade": T2})
    assert late_upgrade(PROGRAM, silver, [entry(T2, 1, 2, 3)], T1, 499) is None


def test_the_later_decisions_stand_after_a_downgrade_run_or_below_the_late_tier():
    # a downgrade since: on time the later runs would have judged another tier
    after_down = member(2, marks={"tier-upgrade": START, "tier-downgrade": T2})
    history = [entry(START, 1, 3, 2), entry(T2, 3, 2, 3, "downgrade_run")]
    assert late_upgrade(PROGRAM, after_down, history, T1, 2500) is None
    # Gold then, by 2,100 Q points valid at T1; the later run (points expired) gave Silver only
    silver = member(2, marks={"tier-upgrade": T2})
    assert late_upgrade(PROGRAM, silver, [entry(T2, 1, 2, 3)], T1, 2100) is None
    # a VIP change since keeps the standard tier: the late upgrade is written
    vip = entry(T2 + timedelta(days=1), 2, 2, 4, "vip_grant")
    assert late_upgrade(PROGRAM, silver, [entry(T2, 1, 2, 3), vip], T1, 600) is not None


def test_a_late_upgrade_keeps_the_later_runs_change_for_its_retry():
    """The 5th's run wrote the member and stopped before its history entry; the 3rd's replay
    lands in between: the 5th's retry still finds its own change to write again."""
    blue = member(1, marks={"tier-upgrade": START}).model_copy(update={"version": 2})
    fifth = decide_run(PROGRAM, blue, "tier-upgrade", T2, None, 600)
    assert fifth is not None
    after_fifth = apply_change(blue, fifth)
    third = late_upgrade(PROGRAM, after_fifth, [entry(START, None, 1, 2)], T1, 600)
    assert third is not None
    after_third = apply_late(after_fifth, third)
    assert after_third.run_changes["tier-upgrade"] == fifth


def test_a_vip_change_since_the_missed_run_does_not_hide_it():
    """A VIP grant on the 4th recorded the standard tier then (Blue): the late upgrade of the
    3rd is still written, and the member held Silver on the 4th, VIP tier and all."""
    vip_day = T1 + timedelta(days=1)
    history = [
        entry(START, None, 1, 2),
        entry(vip_day, 1, 1, 3, "vip_grant").model_copy(update={"vip_tier": "staff", "vip_tiers": ["staff"]}),
        entry(T2, 1, 2, 4).model_copy(update={"vip_tiers": ["staff"]}),
    ]
    silver = member(2, vip=["staff"], marks={"tier-upgrade": T2}).model_copy(update={"version": 4})
    change = late_upgrade(PROGRAM, silver, history, T1, 600)
    assert change is not None and change.new_tier == ref(2)
    assert tiers_at([*history, change], 2, ["staff"], vip_day + timedelta(hours=1)) == (2, ["staff"])
    assert tiers_at(history, 2, ["staff"], vip_day + timedelta(hours=1)) == (1, ["staff"])  # before it
