"""Calendars in a program's IANA time zone, daylight saving included: occurrences, crons (read by
the local stack's Scheduler emulation as Scheduler reads them), the daily jobs' hours, programs."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from local_stack.cron import firings
from loyalty_engine.tiers.calendars import Calendar, midnight_on_or_after
from loyalty_engine.tiers.jobs import job_calendar, schedule_specs
from tests.support.tiers import calendar_program

PARIS = "Europe/Paris"  # CET/CEST: forward on the last Sunday of March at 02:00, back in October at 03:00
ZONES = [
    PARIS,
    "America/New_York",  # 02:00 -> 03:00, 02:00 -> 01:00
    "America/Santiago",  # southern summer, changes at midnight: 00:00 does not happen in September
    "Australia/Lord_Howe",  # half-hour changes
    "Asia/Kolkata",  # no daylight saving, +05:30
    "Europe/London",
    "Etc/GMT-1",  # the default: fixed GMT+1
]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def wall(zone: str, *parts: int, fold: int = 0) -> datetime:
    """A wall time of `zone`, as the UTC instant the calendars hold."""
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def scheduler_firings(calendar: Calendar, start: datetime, until: datetime) -> list[datetime]:
    """Where EventBridge Scheduler fires the calendar's cron in its zone (as `local_stack.cron`
    reads it: a wall time that does not happen is skipped, one that happens twice fires once)."""
    return firings(calendar.cron(), start, until, calendar.time_zone)


# ---------------------------------------------------------------- daylight saving, by example


def test_midnight_in_paris_is_23h_utc_in_winter_and_22h_in_summer():
    daily = Calendar(wall(PARIS, 2027, 3, 26), time_zone=PARIS)
    assert [daily.occurrence(k) for k in range(4)] == [
        utc(2027, 3, 25, 23),
        utc(2027, 3, 26, 23),
        utc(2027, 3, 27, 23),  # 28 March 00:00 CET: the change comes at 02:00
        utc(2027, 3, 28, 22),  # 29 March 00:00 CEST
    ]
    assert daily.cron() == "cron(0 0 * * ? *)"  # midnight never falls into Paris's gap
    assert daily.is_occurrence(utc(2027, 3, 28, 22)) and not daily.is_occurrence(utc(2027, 3, 28, 23))
    autumn = Calendar(wall(PARIS, 2027, 10, 30), time_zone=PARIS)
    assert [autumn.occurrence(k) for k in range(3)] == [
        utc(2027, 10, 29, 22),
        utc(2027, 10, 30, 22),  # 31 October 00:00 CEST
        utc(2027, 10, 31, 23),  # 1 November 00:00 CET
    ]


def test_a_run_at_0230_on_the_spring_forward_day_runs_at_0330():
    daily = Calendar(wall(PARIS, 2027, 3, 27, 2, 30), time_zone=PARIS)
    assert daily.occurrence(1) == utc(2027, 3, 28, 1, 30)  # 02:30 does not happen: 03:30 CEST
    assert daily.occurrence(2) == wall(PARIS, 2027, 3, 29, 2, 30) == utc(2027, 3, 29, 0, 30)
    assert daily.cron() == "cron(30 2,3 * * ? *)"  # Scheduler skips 02:30 that day: 03:30 fires it
    fired = scheduler_firings(daily, utc(2027, 3, 27), utc(2027, 3, 30))
    assert fired == [
        utc(2027, 3, 27, 1, 30),  # 02:30 CET
        utc(2027, 3, 27, 2, 30),  # 03:30 CET: not an occurrence, the starter skips it
        utc(2027, 3, 28, 1, 30),  # 03:30 CEST: the day's run
        utc(2027, 3, 29, 0, 30),  # 02:30 CEST
        utc(2027, 3, 29, 1, 30),  # 03:30 CEST: skipped
    ]
    assert [at for at in fired if daily.is_occurrence(at)] == daily.between(
        utc(2027, 3, 27), utc(2027, 3, 30)
    )


def test_a_run_in_the_repeated_hour_of_autumn_runs_once_at_its_first_pass():
    daily = Calendar(wall(PARIS, 2027, 10, 30, 2, 30), time_zone=PARIS)
    first_pass, second_pass = wall(PARIS, 2027, 10, 31, 2, 30), wall(PARIS, 2027, 10, 31, 2, 30, fold=1)
    assert (first_pass, second_pass) == (utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 1, 30))
    assert daily.occurrence(1) == first_pass
    assert not daily.is_occurrence(second_pass)
    assert daily.cron() == "cron(30 2,3 * * ? *)"  # (03:30 for the spring-forward day)
    fired = scheduler_firings(daily, utc(2027, 10, 30, 12), utc(2027, 11, 1, 12))
    assert second_pass not in fired, "Scheduler fires a repeated wall time once"
    runs = [at for at in fired if daily.is_occurrence(at)]
    assert runs == [first_pass, wall(PARIS, 2027, 11, 1, 2, 30)]


def test_a_zone_whose_clocks_skip_midnight():
    santiago = "America/Santiago"  # 5 September 2027: 00:00 -> 01:00
    assert midnight_on_or_after(utc(2027, 9, 4, 12), 0, santiago) == utc(2027, 9, 5, 4)  # 01:00 -03
    daily = Calendar(midnight_on_or_after(utc(2027, 9, 1, 12), 0, santiago), time_zone=santiago)
    assert daily.cron() == "cron(0 0,1 * * ? *)"
    fired = scheduler_firings(daily, utc(2027, 9, 3), utc(2027, 9, 7))
    runs = [at for at in fired if daily.is_occurrence(at)]
    assert runs == [utc(2027, 9, 3, 4), utc(2027, 9, 4, 4), utc(2027, 9, 5, 4), utc(2027, 9, 6, 3)]


def test_half_hour_changes():
    lord_howe = "Australia/Lord_Howe"  # 3 October 2027: 02:00 -> 02:30
    daily = Calendar(wall(lord_howe, 2027, 9, 1, 2, 15), time_zone=lord_howe)
    assert daily.cron() == "cron(15,45 2 * * ? *)"
    assert daily.occurrence(32) == wall(lord_howe, 2027, 10, 3, 2, 45)


def test_month_ends_and_year_ends_in_the_zone():
    monthly = Calendar(wall(PARIS, 2027, 1, 31), 1, "month", PARIS)
    assert [monthly.occurrence(k) for k in range(4)] == [
        utc(2027, 1, 30, 23),
        utc(2027, 2, 27, 23),
        utc(2027, 3, 30, 22),  # 31 March 00:00 CEST
        utc(2027, 4, 29, 22),
    ]
    assert monthly.cron() == "cron(0 0 28-31 * ? *)"
    new_year = Calendar(wall("America/New_York", 2027, 1, 1), 1, "year", "America/New_York")
    assert [new_year.occurrence(k) for k in range(3)] == [
        utc(2027, 1, 1, 5),
        utc(2028, 1, 1, 5),
        utc(2029, 1, 1, 5),
    ]
    assert new_year.last_before(utc(2028, 1, 1, 5)) == utc(2027, 1, 1, 5)


def test_anniversaries_keep_the_wall_time_of_the_subscription():
    subscribed = wall(PARIS, 2027, 1, 15, 9, 30)  # 08:30 UTC in winter
    yearly = Calendar(subscribed, 1, "year", PARIS)
    half_yearly = Calendar(subscribed, 6, "month", PARIS)
    assert yearly.occurrence(1) == utc(2028, 1, 15, 8, 30)
    assert half_yearly.occurrence(1) == utc(2027, 7, 15, 7, 30)  # 09:30 CEST


def test_the_default_zone_is_fixed_gmt1():
    default, explicit = Calendar(utc(2027, 3, 27, 23)), Calendar(utc(2027, 3, 27, 23), time_zone="Etc/GMT-1")
    assert default == explicit
    assert [default.occurrence(k) for k in range(3)] == [
        utc(2027, 3, 27, 23),
        utc(2027, 3, 28, 23),
        utc(2027, 3, 29, 23),
    ]
    assert midnight_on_or_after(utc(2027, 7, 1, 12)) == utc(2027, 7, 1, 23)


# ---------------------------------------------------------------- properties


def _nominal(calendar: Calendar, k: int) -> datetime:
    """Occurrence k's wall time from dateutil (naive; clamped to the month's end)."""
    start = calendar.first.astimezone(ZoneInfo(calendar.time_zone)).replace(tzinfo=None, fold=0)
    return start + relativedelta(**{f"{calendar.unit}s": k * calendar.value})  # type: ignore[arg-type]


def _happens(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive wall time is shown by the zone's clocks."""
    return moment.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment


zoned_calendars = st.builds(
    lambda day, hour, minute, value, unit, zone: Calendar(
        datetime.combine(day, datetime.min.time())
        .replace(hour=hour, minute=minute, tzinfo=ZoneInfo(zone))
        .astimezone(UTC),
        value,
        unit,
        zone,
    ),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2080, 12, 31)),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
    st.integers(1, 13),
    st.sampled_from(["day", "week", "month", "year"]),
    st.sampled_from(ZONES),
)


@settings(max_examples=300, deadline=None)
@given(calendar=zoned_calendars, k=st.integers(1, 400))
@example(calendar=Calendar(wall(PARIS, 2027, 2, 28, 2, 30), 1, "month", PARIS), k=1)
@example(calendar=Calendar(wall(PARIS, 2027, 1, 31, 2, 30), 1, "month", PARIS), k=2)
def test_occurrences_are_wall_times_of_the_zone_and_strictly_increase(calendar, k):
    zone = ZoneInfo(calendar.time_zone)
    at, following = calendar.occurrence(k), calendar.occurrence(k + 1)
    assert following > at > calendar.occurrence(k - 1)
    nominal = _nominal(calendar, k)
    shown = at.astimezone(zone).replace(tzinfo=None)
    if _happens(nominal, zone):
        assert shown == nominal and at.astimezone(zone).fold == 0  # the first pass of a repeated time
    else:  # moved past the spring-forward change by as much as it was into the gap
        assert shown == nominal + (
            at.astimezone(zone).utcoffset() - (at - timedelta(hours=3)).astimezone(zone).utcoffset()
        )
    if calendar.unit in ("month", "year"):
        first_day = calendar.first.astimezone(zone).day
        assert nominal.day == min(first_day, monthrange(nominal.year, nominal.month)[1]), "no drift"
        assert shown.date() == nominal.date()
    assert calendar.is_occurrence(at) and not calendar.is_occurrence(at + timedelta(minutes=1))
    assert calendar.next_after(at) == following
    assert calendar.last_before(following) == at
    assert calendar.last_at_or_before(following - timedelta(seconds=1)) == at


@settings(max_examples=120, deadline=None)
@given(calendar=zoned_calendars)
@example(calendar=Calendar(wall(PARIS, 2027, 1, 3, 2, 30), 1, "week", PARIS))  # Sundays: 28 March
@example(calendar=Calendar(wall(PARIS, 2027, 1, 28, 2, 30), 1, "month", PARIS))
@example(calendar=Calendar(wall("America/Santiago", 2027, 1, 5, 0, 0), 1, "month", "America/Santiago"))
def test_the_scheduler_fires_at_every_occurrence_and_the_starter_keeps_exactly_them(calendar):
    start = calendar.first - timedelta(minutes=1)
    until = calendar.first + timedelta(days=400)
    fired = scheduler_firings(calendar, start, until)
    occurrences = calendar.between(start, until)
    assert set(occurrences) <= set(fired), (
        calendar,
        calendar.cron(),
        sorted(set(occurrences) - set(fired))[:3],
    )
    assert [at for at in fired if calendar.is_occurrence(at)] == occurrences


# ---------------------------------------------------------------- programs


def test_a_program_counts_in_fixed_gmt1_unless_it_names_its_zone():
    assert calendar_program().time_zone == "Etc/GMT-1"
    assert calendar_program(time_zone="Europe/Paris").time_zone == "Europe/Paris"


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus",
        "Europe",
        "europe/paris",
        "Factory",
        "localtime",
        "posixrules",
        "right/UTC",
        "../etc/passwd",
        "",
        "UTC+1",
        "A" * 65,
    ],
)
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(ValidationError) as refused:
        calendar_program(time_zone=name)
    assert [error["loc"] for error in refused.value.errors()] == [("time_zone",)]


def test_a_programs_jobs_and_schedules_follow_its_zone():
    paris = calendar_program(time_zone=PARIS)
    assert job_calendar("expire-points", paris) == Calendar(utc(2026, 12, 31, 23), time_zone=PARIS)
    assert job_calendar("reconcile", paris) == Calendar(utc(2027, 1, 1, 2), time_zone=PARIS)
    assert job_calendar("reconcile", paris).occurrence(200) == utc(2027, 7, 20, 1)  # 03:00 CEST
    specs = schedule_specs("demo", paris, now=utc(2026, 12, 10))
    assert {spec.input["job"]: (spec.expression, spec.timezone) for spec in specs.values() if spec} == {
        "tier-upgrade": ("cron(30 2,3 * * ? *)", PARIS),
        "tier-downgrade": ("cron(0 0 1 1 ? *)", PARIS),
        "expire-points": ("cron(0 0 * * ? *)", PARIS),
        "reconcile": ("cron(0 3 * * ? *)", PARIS),
    }
    fixed = schedule_specs("demo", calendar_program(), now=utc(2026, 12, 10))
    assert {spec.timezone for spec in fixed.values() if spec} == {"Etc/GMT-1"}
    assert (
        next(spec for spec in fixed.values() if spec and spec.input["job"] == "tier-upgrade").expression
        == "cron(30 2 * * ? *)"
    )


def test_a_first_run_at_the_second_pass_of_a_repeated_time_is_named():
    second_pass = {
        "first_run_at": "2027-10-31T02:30:00+01:00",
        "periodicity": "daily",
    }  # CET: the second 02:30
    first_pass = {"first_run_at": "2027-10-31T02:30:00+02:00", "periodicity": "daily"}
    settings_ = calendar_program().tier_settings.model_dump(mode="json")  # type: ignore[union-attr]
    assert calendar_program(
        time_zone=PARIS, tier_settings=settings_ | {"upgrade": second_pass}
    ).first_runs_at_a_repeated_time() == ["tier_settings.upgrade.first_run_at"]
    assert (
        calendar_program(
            time_zone=PARIS, tier_settings=settings_ | {"upgrade": first_pass}
        ).first_runs_at_a_repeated_time()
        == []
    )
    assert (
        calendar_program(tier_settings=settings_ | {"upgrade": second_pass}).first_runs_at_a_repeated_time()
        == []
    )
