"""Tier rules: upgrade, downgrade (calendar and relative), multipliers, VIP tiers. Tier settings,
schedules and skipped runs: test_tier_settings_schedules.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty_engine.points.ledger import Lot
from loyalty_engine.tiers.calendars import PROGRAM_TZ
from loyalty_engine.tiers.jobs import (
    job_calendar,
)
from loyalty_engine.tiers.rules import (
    anniversary,
    apply_change,
    decide_run,
    downgrade_rank,
    upgrade_rank,
    valid_q_points,
    vip_change,
)
from tests.support.tiers import RELATIVE_YEAR, SAMPLE, member, program, q_lot, simple_program, tiers

FIVE = tiers((0, 0), (100, 80), (200, 160), (300, 240), (400, 320))
UPGRADE_AT = datetime(2026, 6, 1, 2, tzinfo=UTC)  # 03:00 GMT+1, an upgrade occurrence
DOWNGRADE_AT = datetime(2027, 1, 1, 2, tzinfo=UTC)  # the first calendar downgrade
EARLY = datetime(2026, 1, 1, 12, tzinfo=UTC)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PROGRAM_TZ).astimezone(UTC)


def rank_after(prog, person, job, at, previous_run=None):
    change = decide_run(prog, person, job, at, previous_run)
    return person.tier_rank if change is None else (change.new_tier.rank if change.new_tier else None)


# ---------------------------------------------------------------- upgrades


@pytest.mark.parametrize(
    ("points", "expected"),
    [(0, 1), (499, 1), (500, 2), (1999, 2), (2000, 3), (10_000, 3)],
)
def test_upgrade_at_an_entry_threshold_not_one_point_below(points, expected):
    prog = program(SAMPLE)
    person = member(1, q_lot(points, EARLY))
    change = decide_run(prog, person, "tier-upgrade", UPGRADE_AT, None)
    if expected == 1:
        assert change is None
        return
    assert change is not None
    assert change.new_tier.rank == expected and change.new_tier.name == f"T{expected}"
    assert change.previous_tier.rank == 1
    assert change.cause == "upgrade_run" and change.q_points == points
    assert change.run.job == "tier-upgrade" and change.run.scheduled_at == UPGRADE_AT
    assert change.at == UPGRADE_AT and change.member_version == 1


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_an_upgrade_never_lowers(rank):
    prog = program(SAMPLE)
    assert decide_run(prog, member(rank), "tier-upgrade", UPGRADE_AT, None) is None
    assert upgrade_rank(prog.tier_settings, rank, 0) == rank


def test_upgrade_from_no_tier():
    prog = program(tiers((100, 50), (500, 400)))
    assert decide_run(prog, member(None, q_lot(99, EARLY)), "tier-upgrade", UPGRADE_AT, None) is None
    change = decide_run(prog, member(None, q_lot(100, EARLY)), "tier-upgrade", UPGRADE_AT, None)
    assert change.previous_tier is None and change.new_tier.rank == 1


# ---------------------------------------------------------------- downgrades


@pytest.mark.parametrize(("points", "expected"), [(400, 2), (399, 1), (2000, 2)])
def test_downgrade_threshold_is_what_it_takes_to_stay(points, expected):
    prog = program(SAMPLE)
    assert rank_after(prog, member(2, q_lot(points, EARLY)), "tier-downgrade", DOWNGRADE_AT) == expected


@pytest.mark.parametrize(
    ("max_down", "points", "expected"),
    [
        (1, 0, 4),
        (2, 0, 3),
        (3, 0, 2),
        (4, 0, 1),
        (50, 0, 1),
        (1, 170, 4),  # T3 would be supported, but one tier at most
        (2, 170, 3),
        (4, 170, 3),  # the highest lower tier whose downgrade threshold 170 reaches
        (1, 250, 4),
        (4, 319, 4),
        (4, 320, 5),  # at T5's downgrade threshold: stays
    ],
)
def test_max_tier_downgrade_from_the_top(max_down, points, expected):
    prog = program(FIVE, max_down=max_down)
    person = member(5, q_lot(points, EARLY))
    assert rank_after(prog, person, "tier-downgrade", DOWNGRADE_AT) == expected
    assert downgrade_rank(prog.tier_settings, 5, points) == expected


def test_drop_to_no_tier():
    tier_list = tiers((100, 50), (500, 400))
    change = decide_run(program(tier_list), member(1, q_lot(49, EARLY)), "tier-downgrade", DOWNGRADE_AT, None)
    assert change.previous_tier.rank == 1 and change.new_tier is None
    assert rank_after(program(tier_list, max_down=2), member(2), "tier-downgrade", DOWNGRADE_AT) is None
    assert rank_after(program(tier_list, max_down=1), member(2), "tier-downgrade", DOWNGRADE_AT) == 1
    assert rank_after(program(tier_list), member(1, q_lot(50, EARLY)), "tier-downgrade", DOWNGRADE_AT) == 1
    assert decide_run(program(tier_list), member(None), "tier-downgrade", DOWNGRADE_AT, None) is None


# ---------------------------------------------------------------- valid Q points


def test_only_valid_q_points_count():
    at = UPGRADE_AT
    lots = [
        q_lot(300, at - timedelta(days=30), at + timedelta(days=300), "counted"),
        q_lot(100, at, None, "available-just-now"),
        q_lot(1000, at + timedelta(seconds=1), None, "still-held"),
        q_lot(1000, at - timedelta(days=400), at - timedelta(days=35), "expired"),
        q_lot(1000, at - timedelta(days=365), at, "expires-now"),
        Lot(lot_id="nq", kind="nq", points=5000, available_at=at - timedelta(days=1)),
    ]
    person = member(1, *lots)
    assert valid_q_points(person.lots, at) == 400
    assert decide_run(program(SAMPLE), person, "tier-upgrade", at, None) is None
    later = at + timedelta(seconds=1)  # the held lot counts from its available_at
    change = decide_run(program(SAMPLE), person, "tier-upgrade", later, None)
    assert change.q_points == 1400 and change.new_tier.rank == 2


def test_a_downgrade_sees_the_points_that_have_expired():
    lot = q_lot(600, datetime(2026, 2, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    prog = program(
        SAMPLE,
        downgrade={"mode": "calendar", "first_run_at": "2027-01-01T03:00:00+01:00", "periodicity": "monthly"},
    )
    assert rank_after(prog, member(2, lot), "tier-downgrade", DOWNGRADE_AT) == 2
    assert rank_after(prog, member(2, lot), "tier-downgrade", local(2027, 2, 1, 3)) == 1


# ---------------------------------------------------------------- multipliers


def test_effective_multiplier_is_the_larger_per_kind():
    prog = program(
        tiers((0, 0), (500, 400), (2000, 1500)),
        vip=[
            {"name": "staff", "nq_multiplier": "2", "q_multiplier": "1"},
            {"name": "ambassador", "nq_multiplier": "1", "q_multiplier": "5"},
        ],
    )
    assert member(1).multipliers(prog) == (1, 1)
    assert member(1, vip=["staff"]).multipliers(prog) == (2, 1)
    assert member(2, vip=["staff"]).multipliers(prog) == (2, 2)
    assert member(3, vip=["staff"]).multipliers(prog) == (3, 3)
    assert member(1, vip=["ambassador"]).multipliers(prog) == (1, 5)
    assert member(3, vip=["ambassador", "staff"]).multipliers(prog) == (3, 5)
    assert member(None, vip=["staff"]).multipliers(prog) == (2, 1)
    assert member(2, vip=["gone"]).multipliers(prog) == (2, 2)  # a VIP tier the program dropped


def test_explicit_tier_multipliers():
    prog = program(
        tiers((0, 0), (500, 400), nq_multiplier="1.5", q_multiplier="0.5"),
        vip=[{"name": "staff", "nq_multiplier": "1.2", "q_multiplier": "0.8"}],
    )
    assert member(2).multipliers(prog) == (Decimal("1.5"), Decimal("0.5"))
    assert member(2, vip=["staff"]).multipliers(prog) == (Decimal("1.5"), Decimal("0.8"))
    assert member(None).multipliers(simple_program()) == (1, 1)


# ---------------------------------------------------------------- relative downgrades

RELATIVE_MONTH = {"mode": "relative", "every": {"value": 1, "unit": "month"}}


def _relative_rank(prog, person, at):
    calendar = job_calendar("tier-downgrade", prog)
    assert calendar.is_occurrence(at), at
    return rank_after(prog, person, "tier-downgrade", at, calendar.last_before(at))


def test_relative_downgrades_run_every_midnight_gmt1():
    calendar = job_calendar("tier-downgrade", program(SAMPLE, downgrade=RELATIVE_YEAR))
    assert calendar.first == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert calendar.cron() == "cron(0 0 * * ? *)"


def test_relative_downgrade_only_when_the_anniversary_falls_in_the_run():
    prog = program(SAMPLE, downgrade=RELATIVE_YEAR)
    person = member(2, subscribed_at=datetime(2026, 3, 15, 10, tzinfo=UTC))
    assert anniversary(person, prog, local(2027, 3, 16)) == datetime(2027, 3, 15, 10, tzinfo=UTC)
    assert _relative_rank(prog, person, local(2027, 3, 15)) == 2  # not yet
    assert _relative_rank(prog, person, local(2027, 3, 16)) == 1  # (15 Mar 00:00, 16 Mar 00:00]
    assert _relative_rank(prog, person, local(2027, 3, 17)) == 2  # already past
    assert _relative_rank(prog, person, local(2026, 3, 16)) == 2  # the subscription is no anniversary


def test_relative_anniversary_is_reckoned_in_gmt1():
    prog = program(SAMPLE, downgrade=RELATIVE_YEAR)
    person = member(2, subscribed_at=datetime(2026, 3, 15, 23, 30, tzinfo=UTC))  # 16 Mar 00:30 GMT+1
    assert _relative_rank(prog, person, local(2027, 3, 16)) == 2
    assert _relative_rank(prog, person, local(2027, 3, 17)) == 1


def test_relative_anniversary_on_29_february():
    prog = program(SAMPLE, downgrade=RELATIVE_YEAR)
    person = member(2, subscribed_at=local(2028, 2, 29, 12))
    assert _relative_rank(prog, person, local(2029, 2, 28)) == 2
    assert _relative_rank(prog, person, local(2029, 3, 1)) == 1  # 28 Feb in a common year
    assert _relative_rank(prog, person, local(2029, 3, 2)) == 2
    assert _relative_rank(prog, person, local(2032, 2, 29)) == 2
    assert _relative_rank(prog, person, local(2032, 3, 1)) == 1  # 29 Feb again in 2032
    assert anniversary(person, prog, local(2032, 3, 1)) == local(2032, 2, 29, 12)


def test_relative_anniversary_on_the_31st():
    prog = program(SAMPLE, downgrade=RELATIVE_MONTH)
    person = member(2, subscribed_at=local(2027, 1, 31, 12))
    due = [
        day
        for day in range(1, 60)
        if _relative_rank(prog, person, local(2027, 2, 1) + timedelta(days=day)) == 1
    ]
    assert [local(2027, 2, 1) + timedelta(days=day) for day in due] == [local(2027, 3, 1), local(2027, 4, 1)]
    assert anniversary(person, prog, local(2027, 5, 1)) == local(2027, 4, 30, 12)
    assert _relative_rank(prog, person, local(2027, 5, 1)) == 1


def test_relative_first_run_catches_up_and_marks_hold():
    prog = program(SAMPLE, downgrade=RELATIVE_YEAR)
    person = member(2, subscribed_at=datetime(2026, 3, 15, 10, tzinfo=UTC))
    at = local(2027, 6, 1)
    assert rank_after(prog, person, "tier-downgrade", at, None) == 1  # no previous run: any anniversary
    marked = member(2, subscribed_at=person.subscribed_at, marks={"tier-downgrade": local(2027, 3, 16)})
    assert rank_after(prog, marked, "tier-downgrade", at, None) == 2  # changed since this anniversary


# ---------------------------------------------------------------- runs are idempotent


def test_a_calendar_downgrade_run_twice_changes_once():
    prog = program(SAMPLE)
    person = member(3)
    change = decide_run(prog, person, "tier-downgrade", DOWNGRADE_AT, None)
    assert change.new_tier.rank == 2
    after = apply_change(person, change)
    assert after.tier_rank == 2 and after.version == 1
    assert after.tier_marks == {"tier-downgrade": DOWNGRADE_AT}
    assert after.run_changes == {change.run.job: change}
    assert decide_run(prog, after, "tier-downgrade", DOWNGRADE_AT, None) is None
    # without the mark, the same member would drop again
    assert decide_run(prog, after.model_copy(update={"tier_marks": {}}), "tier-downgrade", DOWNGRADE_AT, None)
    # the next year's run is another run
    next_year = datetime(2028, 1, 1, 2, tzinfo=UTC)
    assert decide_run(prog, after, "tier-downgrade", next_year, DOWNGRADE_AT).new_tier.rank == 1


def test_marks_are_per_job():
    prog = program(SAMPLE)
    person = member(3, marks={"tier-upgrade": DOWNGRADE_AT})
    assert rank_after(prog, person, "tier-downgrade", DOWNGRADE_AT) == 2
    upgraded = member(1, q_lot(600, EARLY), marks={"tier-downgrade": UPGRADE_AT})
    assert rank_after(prog, upgraded, "tier-upgrade", UPGRADE_AT) == 2
    later_mark = member(1, q_lot(600, EARLY), marks={"tier-upgrade": UPGRADE_AT + timedelta(days=1)})
    assert rank_after(prog, later_mark, "tier-upgrade", UPGRADE_AT) == 1  # a later run changed it already


def test_each_job_keeps_its_last_change_for_a_retry():
    """A downgrade run's change survives a later upgrade run's change (and the other way round),
    so a retried run can write its lost history entry again."""
    prog = program(SAMPLE)
    person = member(3)
    downgrade = decide_run(prog, person, "tier-downgrade", DOWNGRADE_AT, None)
    dropped = apply_change(person, downgrade)
    later = DOWNGRADE_AT + timedelta(days=1)
    regained = dropped.model_copy(update={"lots": [q_lot(2_500, EARLY)]})
    upgrade = decide_run(prog, regained, "tier-upgrade", later, None)
    assert upgrade is not None and upgrade.new_tier.rank == 3
    after = apply_change(regained, upgrade)
    assert after.run_changes == {"tier-downgrade": downgrade, "tier-upgrade": upgrade}


def test_no_tier_decisions_without_tiers_or_for_points_jobs():
    assert (
        decide_run(simple_program(), member(None, q_lot(10_000, EARLY)), "tier-upgrade", UPGRADE_AT, None)
        is None
    )
    assert (
        decide_run(program(SAMPLE), member(1, q_lot(10_000, EARLY)), "expire-points", UPGRADE_AT, None)
        is None
    )


# ---------------------------------------------------------------- VIP tiers

VIPS = [{"name": "staff", "nq_multiplier": "2"}, {"name": "ambassador", "q_multiplier": "3"}]


def test_vip_grant_and_remove():
    prog = program(SAMPLE, vip=VIPS)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    person = member(2, q_lot(700, EARLY), vip=["staff"])
    assert vip_change(prog, person, "staff", grant=True, reason="again", now=now) is None
    assert vip_change(prog, person, "ambassador", grant=False, reason=None, now=now) is None
    granted = vip_change(prog, person, "ambassador", grant=True, reason="influencer", now=now)
    assert (
        granted.cause == "vip_grant" and granted.vip_tier == "ambassador" and granted.reason == "influencer"
    )
    assert granted.vip_tiers == ["ambassador", "staff"]
    assert granted.previous_tier == granted.new_tier and granted.new_tier.rank == 2
    assert granted.q_points == 700 and granted.at == now and granted.run is None
    after = apply_change(person, granted)
    assert after.vip_tiers == ["ambassador", "staff"] and after.tier_rank == 2 and after.version == 1
    assert after.tier_marks == {} and after.run_changes == {}
    removed = vip_change(prog, after, "staff", grant=False, reason="left", now=now)
    assert removed.cause == "vip_remove" and removed.vip_tiers == ["ambassador"]
    assert removed.member_version == 2
    assert apply_change(after, removed).vip_tiers == ["ambassador"]


def test_a_run_keeps_the_vip_tiers():
    prog = program(SAMPLE, vip=VIPS)
    change = decide_run(prog, member(3, vip=["staff"]), "tier-downgrade", DOWNGRADE_AT, None)
    assert change.vip_tiers == ["staff"]
    assert apply_change(member(3, vip=["staff"]), change).vip_tiers == ["staff"]
