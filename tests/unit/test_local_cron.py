"""The local stack's schedule expressions (`local_stack/cron.py`) and its virtual clock.

The property that matters: the cron expression a calendar gives its schedule
(`Calendar.cron()`, read in Scheduler's `Etc/GMT-1`) fires at every occurrence of the
calendar, and the firings the job starter keeps (`Calendar.is_occurrence`) are exactly
the occurrences.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from local_stack.cron import At, Cron, aws_weekday, firings, parse
from local_stack.virtual_clock import VirtualClock
from loyalty_engine.tiers.calendars import PROGRAM_TZ, SCHEDULER_TIMEZONE, Calendar


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(*parts: int) -> datetime:
    """A GMT+1 wall time, as the UTC instant the calendars hold."""
    return datetime(*parts, tzinfo=PROGRAM_TZ).astimezone(UTC)


# ---------------------------------------------------------------- calendars and their crons

YEARS = 3  # of firings checked after the calendar's first occurrence


def _check(calendar: Calendar, years: int = YEARS) -> None:
    start = calendar.first - timedelta(minutes=1)
    until = calendar.first + timedelta(days=366 * years)
    fired = firings(calendar.cron(), start, until, SCHEDULER_TIMEZONE)
    occurrences = calendar.between(start, until)
    assert occurrences, calendar
    assert set(occurrences) <= set(fired), (
        calendar,
        calendar.cron(),
        sorted(set(occurrences) - set(fired))[:3],
    )
    assert [at for at in fired if calendar.is_occurrence(at)] == occurrences, (calendar, calendar.cron())
    assert fired == sorted(set(fired)), "oldest first, once each"


starts = st.builds(
    lambda day, hour, minute: local(day.year, day.month, day.day, hour, minute),
    st.dates(min_value=date(2001, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(0, 23),
    st.integers(0, 59),
)


def _month_end(year: int, month: int, day: int, hour: int) -> datetime:
    from calendar import monthrange

    return local(year, month, min(day, monthrange(year, month)[1]), hour, 0)


month_ends = st.builds(
    _month_end, st.integers(2001, 2090), st.integers(1, 12), st.integers(28, 31), st.integers(0, 23)
)
leap_days = st.builds(
    lambda year, hour, minute: local(year, 2, 29, hour, minute),
    st.sampled_from([2004, 2008, 2024, 2028, 2048, 2088]),
    st.integers(0, 23),
    st.integers(0, 59),
)


@settings(max_examples=150, deadline=None)
@given(
    first=starts | month_ends | leap_days, unit=st.sampled_from(["month", "year"]), value=st.integers(1, 3)
)
@example(first=local(2027, 1, 31), unit="month", value=1)
@example(first=local(2028, 2, 29), unit="year", value=1)
@example(first=local(2027, 12, 31, 23, 30), unit="month", value=1)
@example(first=local(2027, 1, 1), unit="year", value=1)
@example(first=local(2027, 1, 1, 0, 30), unit="year", value=1)
def test_monthly_and_yearly_crons_fire_at_every_occurrence(first: datetime, unit: str, value: int) -> None:
    _check(Calendar(first, value, unit))  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(first=starts | month_ends | leap_days, unit=st.sampled_from(["day", "week"]), value=st.integers(1, 10))
@example(first=local(2027, 1, 3, 23, 59), unit="week", value=1)  # a Sunday, late
@example(first=local(2027, 1, 4, 0, 0), unit="week", value=1)  # a Monday: Sunday 23:00 UTC
@example(first=local(2026, 1, 2, 3, 0), unit="day", value=1)
def test_daily_and_weekly_crons_fire_at_every_occurrence(first: datetime, unit: str, value: int) -> None:
    _check(Calendar(first, value, unit), years=2)  # type: ignore[arg-type]


def test_the_crons_calendars_give() -> None:
    assert Calendar(local(2027, 1, 31), 1, "month").cron() == "cron(0 0 28-31 * ? *)"
    assert Calendar(local(2028, 2, 29, 3), 1, "year").cron() == "cron(0 3 28-31 2 ? *)"
    assert Calendar(local(2027, 1, 4, 6, 15), 1, "week").cron() == "cron(15 6 ? * MON *)"
    # Every 31 January: firings on the 28th-31st, of which only the 31st is an occurrence.
    yearly = Calendar(local(2027, 1, 31), 1, "year")
    fired = firings(yearly.cron(), utc(2027, 1, 1), utc(2028, 12, 31), SCHEDULER_TIMEZONE)
    assert fired == [local(2027, 1, d) for d in (28, 29, 30, 31)] + [
        local(2028, 1, d) for d in (28, 29, 30, 31)
    ]
    assert [at for at in fired if yearly.is_occurrence(at)] == [local(2027, 1, 31), local(2028, 1, 31)]


# ---------------------------------------------------------------- the expressions


def test_fields_values_ranges_lists_and_steps() -> None:
    cron = Cron.parse("0/15 8-10,22 ? * MON-FRI *")
    assert cron.minutes == {0, 15, 30, 45}
    assert cron.hours == {8, 9, 10, 22}
    assert cron.day_of_month is None
    assert cron.day_of_week is not None and cron.day_of_week.days == {2, 3, 4, 5, 6}
    assert Cron.parse("5 */6 1,15 JAN-MAR ? 2027-2029").months == {1, 2, 3}
    assert Cron.parse("5 */6 1,15 JAN-MAR ? 2027-2029").hours == {0, 6, 12, 18}
    assert Cron.parse("0 0 10-20/5 * ? *").day_of_month.days == {10, 15, 20}  # type: ignore[union-attr]
    assert Cron.parse("0 0 ? * 1,7 *").day_of_week.days == {1, 7}  # type: ignore[union-attr]


def test_weekdays_count_from_sunday() -> None:
    assert aws_weekday(date(2027, 1, 3)) == 1  # a Sunday
    assert aws_weekday(date(2027, 1, 4)) == 2  # a Monday
    assert aws_weekday(date(2027, 1, 9)) == 7  # a Saturday
    january = firings("cron(0 12 ? * SUN *)", utc(2027, 1, 1), utc(2027, 2, 1))
    assert [at.day for at in january] == [3, 10, 17, 24, 31]
    assert firings("cron(0 12 ? * 1 *)", utc(2027, 1, 1), utc(2027, 2, 1)) == january


def test_last_days_and_nth_weekdays() -> None:
    assert [at.date() for at in firings("cron(0 0 L * ? *)", utc(2027, 1, 1), utc(2028, 3, 1))][:3] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]
    assert date(2028, 2, 29) in [
        at.date() for at in firings("cron(0 0 L * ? *)", utc(2028, 2, 1), utc(2028, 3, 1))
    ]
    # The last Friday, the first Monday of each month of 2027's first quarter.
    assert [at.day for at in firings("cron(0 0 ? * 6L *)", utc(2027, 1, 1), utc(2027, 3, 31))] == [29, 26, 26]
    assert [at.day for at in firings("cron(0 0 ? * MON#1 *)", utc(2027, 1, 1), utc(2027, 3, 31))] == [4, 1, 1]


def test_years_months_and_the_window_bounds() -> None:
    fired = firings("cron(30 9 1 6 ? 2027,2029)", utc(2026, 1, 1), utc(2031, 1, 1))
    assert fired == [utc(2027, 6, 1, 9, 30), utc(2029, 6, 1, 9, 30)]
    at = utc(2027, 6, 1, 9, 30)
    assert firings("cron(30 9 1 6 ? *)", at, at + timedelta(days=1)) == [], "the start is excluded"
    assert firings("cron(30 9 1 6 ? *)", at - timedelta(seconds=1), at) == [at], "the end is included"
    assert firings("cron(* * * * ? *)", at, at + timedelta(minutes=3)) == [
        at + timedelta(minutes=m) for m in (1, 2, 3)
    ]


def test_the_time_zone_moves_the_wall_time() -> None:
    # 00:00 in Etc/GMT-1 (UTC+1) is 23:00 UTC the day before.
    assert firings("cron(0 0 1 1 ? *)", utc(2026, 12, 1), utc(2027, 2, 1), "Etc/GMT-1") == [
        utc(2026, 12, 31, 23)
    ]
    assert firings("cron(0 0 1 1 ? *)", utc(2026, 12, 1), utc(2027, 2, 1), "UTC") == [utc(2027, 1, 1)]


def test_daylight_saving_skips_missing_wall_times_and_fires_repeated_ones_once() -> None:
    # Europe/Paris: 2027-03-28 02:00 -> 03:00, 2027-10-31 03:00 -> 02:00.
    spring = firings("cron(30 2 * * ? *)", utc(2027, 3, 27), utc(2027, 3, 30), "Europe/Paris")
    assert [at.day for at in spring] == [27, 29], "02:30 does not exist on the 28th"
    autumn = firings("cron(30 2 * * ? *)", utc(2027, 10, 30), utc(2027, 11, 1, 12), "Europe/Paris")
    assert autumn == [utc(2027, 10, 30, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30)]


def test_at_expressions_fire_once() -> None:
    assert parse("at(2027-01-01T00:00:00)") == At(datetime(2027, 1, 1))
    assert firings("at(2027-01-01T00:00:00)", utc(2026, 1, 1), utc(2028, 1, 1), "Etc/GMT-1") == [
        utc(2026, 12, 31, 23)
    ]
    assert firings("at(2027-01-01T00:00:00)", utc(2027, 1, 1), utc(2028, 1, 1), "Etc/GMT-1") == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(5 minutes)", "rate expressions are not supported"),
        ("0 0 * * ? *", "not a schedule expression"),
        ("cron(0 0 * * *)", "6 fields"),
        ("cron(0 0 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 0 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 0 * * ? *)", "minutes: 60 is not in 0-59"),
        ("cron(0 24 * * ? *)", "hours: 24"),
        ("cron(0 0 0 * ? *)", "day-of-month: 0"),
        ("cron(0 0 * 13 ? *)", "month: 13"),
        ("cron(0 0 * FOO ? *)", "month: 'FOO'"),
        ("cron(0 0 ? * 8 *)", "day-of-week: 8"),
        ("cron(0 0 20-10 * ? *)", "runs backwards"),
        ("cron(0/0 0 * * ? *)", "step"),
        ("cron(0 0 15W * ? *)", "`W`"),
        ("cron(0 0 * * ? 1969)", "year: 1969"),
        ("at(2027-01-01)", "yyyy-mm-ddThh:mm:ss"),
    ],
)
def test_invalid_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse(expression)


# ---------------------------------------------------------------- the virtual clock


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_runs_at_its_speed_pauses_jumps_and_stops_at_a_cap() -> None:
    real = FakeMonotonic()
    start = utc(2027, 1, 1)
    clock = VirtualClock(start, 86_400, monotonic=real)
    real.now += 1.5
    assert clock.now() == start + timedelta(days=1.5)
    clock.pause()
    real.now += 10
    assert clock.now() == start + timedelta(days=1.5) and not clock.running
    clock.run(60, until=start + timedelta(days=1.5, minutes=2))
    real.now += 1
    assert clock.now() == start + timedelta(days=1.5, minutes=1)
    real.now += 10
    assert clock.now() == start + timedelta(days=1.5, minutes=2), "stopped at the cap"
    clock.set(utc(2030, 1, 1))
    real.now += 1
    assert clock.now() == utc(2030, 1, 1, 0, 1), "a jump past the cap drops it; the speed is kept"
    standing = VirtualClock(start, running=False, monotonic=real)
    real.now += 1000
    assert standing.now() == start
    with pytest.raises(ValueError):
        VirtualClock(start, 0)
    with pytest.raises(ValueError):
        VirtualClock(datetime(2027, 1, 1))  # naive
