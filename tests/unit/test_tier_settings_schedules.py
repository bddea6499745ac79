"""Tier settings (refused and valid edges), the schedules a program's jobs get, the reasons a run is
skipped and the run ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from loyalty_engine.points.programs import ProgramSpec, TierSettings
from loyalty_engine.tiers.jobs import (
    SCHEDULED_TIME,
    JobRequest,
    schedule_name,
    schedule_specs,
    skip_reason,
)
from tests.support.tiers import RELATIVE_YEAR, SAMPLE, START, program, simple_program, tiers

# ---------------------------------------------------------------- tier-set validation


def _settings(tier_list, **extra):
    return {
        "tiers": tier_list,
        "upgrade": {"first_run_at": "2027-01-01T00:00:00+01:00"},
        "downgrade": {"mode": "relative", "every": {"value": 1, "unit": "years"}},
        **extra,
    }


@pytest.mark.parametrize(
    ("tier_list", "extra", "message"),
    [
        (tiers((0, 0), (100, 80), (50, 40)), {}, "tier 3 entry_threshold must be above"),
        (tiers((0, 0), (100, 100), (100, 90)), {}, "entry_threshold must be above"),
        (tiers((0, 1)), {}, "downgrade_threshold must not exceed"),
        ([{**tiers((0, 0), (10, 5))[1], "rank": 3}, *tiers((0, 0))], {}, "by rank"),
        ([*tiers((0, 0)), {**tiers((0, 0), (10, 5))[1], "rank": 3}], {}, "by rank"),
        ([tiers((0, 0), (10, 5))[1], tiers((0, 0))[0]], {}, "by rank"),
        ([*tiers((0, 0)), {**tiers((0, 0), (10, 5))[1], "name": "T1"}], {}, "names must be unique"),
        ([], {}, "at least 1"),
        (tiers((0, 0), (10, 5)), {"max_tier_downgrade": 0}, "greater than or equal to 1"),
        (tiers((0, 0)), {"downgrade": {"mode": "relative"}}, "relative downgrades need `every`"),
        (
            tiers((0, 0)),
            {"upgrade": {"first_run_at": "2027-01-01T00:00:30+01:00"}},
            "scheduled to the minute",
        ),
        (
            tiers((0, 0)),
            {"downgrade": {"mode": "calendar", "first_run_at": "2027-01-01T03:00:01+01:00"}},
            "scheduled to the minute",
        ),
        ([{**tiers((0, 0))[0], "entry_threshold": -1}], {}, "greater than or equal to 0"),
        ([{**tiers((0, 0))[0], "nq_multiplier": "0"}], {}, "greater than 0"),
    ],
)
def test_invalid_tier_settings_are_refused(tier_list, extra, message):
    with pytest.raises(ValidationError, match=message):
        TierSettings.model_validate(_settings(tier_list, **extra))


def test_valid_tier_settings_edges():
    settings = TierSettings.model_validate(
        _settings(tiers((0, 0), (100, 100), (101, 0)), max_tier_downgrade=3)
    )
    assert [t.rank for t in settings.tiers] == [1, 2, 3]
    assert settings.tier(0) is None and settings.tier(None) is None and settings.tier(3).name == "T3"


def test_a_simple_program_has_no_tier_settings():
    base = {"name": "P", "currency": "EUR", "starts_at": "2027-01-01T00:00:00+01:00"}
    with pytest.raises(ValidationError, match="a simple program has no tier_settings"):
        ProgramSpec.model_validate({**base, "tier_settings": _settings(tiers((0, 0)))})
    with pytest.raises(ValidationError, match="VIP tier names must be unique"):
        ProgramSpec.model_validate({**base, "vip_tiers": [{"name": "staff"}, {"name": "staff"}]})


# ---------------------------------------------------------------- jobs: schedules and skips


def test_schedule_names_fit_scheduler_for_the_longest_slugs():
    group, program_id = "g" * 63, "p" * 63
    names = {
        schedule_name(group, program_id, job)
        for job in ("tier-upgrade", "tier-downgrade", "expire-points", "reconcile")
    }
    assert len(names) == 4 and all(len(name) <= 64 for name in names)
    assert schedule_name(group, program_id, "tier-upgrade") != schedule_name(group, "p" * 62, "tier-upgrade")
    assert schedule_name("a", "b-c", "reconcile") != schedule_name("a-b", "c", "reconcile")
    specs = schedule_specs(group, program(SAMPLE, program_id=program_id))
    assert set(specs) == names and all(len(name) <= 64 for name in specs)


def test_schedule_specs_of_the_sample_program():
    prog = program(SAMPLE, ends_at=datetime(2030, 1, 1, tzinfo=UTC))
    specs = {spec.input["job"]: spec for spec in schedule_specs("demo", prog).values()}
    assert {job: spec.expression for job, spec in specs.items()} == {
        "tier-upgrade": "cron(0 3 * * ? *)",
        "tier-downgrade": "cron(0 3 1 1 ? *)",
        "expire-points": "cron(0 0 * * ? *)",
        "reconcile": "cron(0 3 * * ? *)",
    }
    assert {spec.timezone for spec in specs.values()} == {"Etc/GMT-1"}
    assert specs["tier-upgrade"].start == datetime(2026, 1, 2, 2, tzinfo=UTC)
    assert specs["tier-downgrade"].start == datetime(2027, 1, 1, 2, tzinfo=UTC)
    assert specs["expire-points"].start == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert specs["reconcile"].start == datetime(2026, 1, 1, 2, tzinfo=UTC)
    assert specs["tier-upgrade"].end == specs["tier-downgrade"].end == datetime(2030, 1, 1, tzinfo=UTC)
    assert specs["expire-points"].end is None and specs["reconcile"].end is None  # points outlive the program
    assert specs["reconcile"].input == {
        "group": "demo",
        "program_id": "club",
        "job": "reconcile",
        "scheduled_at": SCHEDULED_TIME,
    }
    for job, spec in specs.items():
        assert spec.name == schedule_name("demo", "club", job)


def test_schedule_specs_of_a_simple_program_delete_the_tier_jobs():
    specs = schedule_specs("demo", simple_program())
    by_job = {name.rsplit("-", 1)[0]: spec for name, spec in specs.items()}
    assert by_job["tier-upgrade"] is None and by_job["tier-downgrade"] is None
    assert by_job["expire-points"].expression == "cron(0 0 * * ? *)"
    assert by_job["reconcile"].expression == "cron(0 3 * * ? *)"


def test_relative_downgrade_schedule_is_daily_at_midnight():
    specs = schedule_specs("demo", program(SAMPLE, downgrade=RELATIVE_YEAR))
    downgrade = specs[schedule_name("demo", "club", "tier-downgrade")]
    assert downgrade.expression == "cron(0 0 * * ? *)" and downgrade.start == datetime(
        2025, 12, 31, 23, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("periodicity", "expression"),
    [
        ("daily", "cron(0 3 * * ? *)"),
        ("weekly", "cron(0 3 ? * FRI *)"),  # 2 January 2026 is a Friday
        ("monthly", "cron(0 3 2 * ? *)"),
        ("yearly", "cron(0 3 2 1 ? *)"),
    ],
)
def test_upgrade_expressions_by_periodicity(periodicity, expression):
    prog = program(SAMPLE)
    settings = prog.tier_settings
    upgrade = settings.upgrade.model_copy(update={"periodicity": periodicity})
    prog = prog.model_copy(update={"tier_settings": settings.model_copy(update={"upgrade": upgrade})})
    spec = schedule_specs("demo", prog)[schedule_name("demo", "club", "tier-upgrade")]
    assert spec.expression == expression and spec.start == datetime(2026, 1, 2, 2, tzinfo=UTC)


def _request(job, at, program_id="club"):
    return JobRequest(group="demo", program_id=program_id, job=job, scheduled_at=at)


def test_skip_reasons():
    prog = program(SAMPLE, ends_at=datetime(2028, 1, 1, tzinfo=UTC))
    upgrade = datetime(2026, 6, 1, 2, tzinfo=UTC)
    assert skip_reason(_request("tier-upgrade", upgrade), prog) is None
    assert skip_reason(_request("tier-upgrade", upgrade), None) == "program_not_found"
    assert skip_reason(_request("tier-upgrade", upgrade), simple_program("club")) == "job_not_applicable"
    assert skip_reason(_request("tier-upgrade", upgrade + timedelta(minutes=1)), prog) == "not_an_occurrence"
    assert skip_reason(_request("tier-upgrade", upgrade + timedelta(minutes=1)), prog, manual=True) is None
    assert (
        skip_reason(_request("tier-upgrade", START - timedelta(days=1)), prog, manual=True)
        == "program_not_active"
    )
    after_end = datetime(2028, 1, 1, 2, tzinfo=UTC)
    assert skip_reason(_request("tier-upgrade", after_end), prog) == "program_not_active"
    # points jobs go on after the program's end (points still expire)
    assert skip_reason(_request("expire-points", datetime(2028, 3, 1, 23, tzinfo=UTC)), prog) is None
    assert (
        skip_reason(_request("expire-points", datetime(2028, 3, 1, 22, tzinfo=UTC)), prog)
        == "not_an_occurrence"
    )
    assert (
        skip_reason(_request("reconcile", datetime(2026, 3, 1, 2, tzinfo=UTC)), simple_program("club"))
        is None
    )


def test_run_ids_name_the_job_and_instant():
    assert (
        _request("tier-upgrade", datetime(2026, 6, 1, 2, tzinfo=UTC)).run_id
        == "tier-upgrade@2026-06-01T02:00:00Z"
    )
    with pytest.raises(ValidationError):
        _request("tier-sideways", datetime(2026, 6, 1, 2, tzinfo=UTC))
    with pytest.raises(ValidationError):
        JobRequest.model_validate(
            {"group": "demo", "program_id": "club", "job": "reconcile", "scheduled_at": "2026-06-01T02:00:00"}
        )
