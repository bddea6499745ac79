"""Calendars: occurrences counted from the first one in fixed GMT+1 wall time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.kernel.timeutil import END_OF_TIME
from loyalty_engine.tiers.calendars import PROGRAM_TZ, Calendar, midnight_on_or_after


def local(*parts: int) -> datetime:
    """A GMT+1 wall time, as the UTC instant the calendars hold."""
    return datetime(*parts, tzinfo=PROGRAM_TZ).astimezone(UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# ---------------------------------------------------------------- GMT+1 vs UTC


def test_daily_midnight_gmt1_is_23h_utc_the_day_before():
    daily = Calendar(local(2026, 1, 1))
    assert daily.first == utc(2025, 12, 31, 23)
    assert [daily.occurrence(k) for k in range(3)] == [
        utc(2025, 12, 31, 23),
        utc(2026, 1, 1, 23),
        utc(2026, 1, 2, 23),
    ]
    assert daily.is_occurrence(utc(2026, 1, 1, 23))
    assert not daily.is_occurrence(utc(2026, 1, 2))  # UTC midnight is 01:00 GMT+1
    assert daily.next_after(utc(2026, 1, 2)) == utc(2026, 1, 2, 23)
    assert daily.last_at_or_before(utc(2026, 1, 2)) == utc(2026, 1, 1, 23)
    assert daily.cron() == "cron(0 0 * * ? *)"


def test_midnight_on_or_after_is_reckoned_in_gmt1():
    assert midnight_on_or_after(utc(2026, 3, 10, 22, 59)) == utc(2026, 3, 10, 23)
    assert midnight_on_or_after(utc(2026, 3, 10, 23)) == utc(2026, 3, 10, 23)  # exactly midnight GMT+1
    assert midnight_on_or_after(utc(2026, 3, 10, 23, 0, 1)) == utc(2026, 3, 11, 23)
    assert midnight_on_or_after(utc(2026, 3, 10, 1), hour=3) == utc(2026, 3, 10, 2)
    assert midnight_on_or_after(utc(2026, 3, 10, 2, 30), hour=3) == utc(2026, 3, 11, 2)


def test_a_monthly_calendar_counts_months_in_gmt1_not_utc():
    # 31 Jan 00:30 GMT+1 is 30 Jan 23:30 UTC: counted in UTC, the next would be 28 Feb 23:30 UTC
    # (1 March in GMT+1); in GMT+1 it is 28 Feb 00:30, i.e. 27 Feb 23:30 UTC.
    monthly = Calendar(local(2027, 1, 31, 0, 30), 1, "month")
    assert monthly.occurrence(1) == utc(2027, 2, 27, 23, 30)
    assert monthly.occurrence(2) == utc(2027, 3, 30, 23, 30)


# ---------------------------------------------------------------- month ends, 29 February


def test_month_end_clamps_without_drift():
    monthly = Calendar(local(2027, 1, 31), 1, "month")
    expected = [
        local(2027, 1, 31),
        local(2027, 2, 28),
        local(2027, 3, 31),  # back to the 31st: counted from the first, not from 28 Feb
        local(2027, 4, 30),
        local(2027, 5, 31),
    ]
    assert [monthly.occurrence(k) for k in range(5)] == expected
    assert monthly.next_after(local(2027, 2, 28)) == local(2027, 3, 31)
    assert monthly.last_before(local(2027, 3, 31)) == local(2027, 2, 28)
    assert monthly.between(local(2027, 1, 31), local(2027, 5, 31)) == expected[1:]
    assert not monthly.is_occurrence(local(2027, 3, 28))
    assert monthly.cron() == "cron(0 0 28-31 * ? *)"


def test_month_end_in_a_leap_year():
    monthly = Calendar(local(2028, 1, 31), 1, "month")
    assert monthly.occurrence(1) == local(2028, 2, 29)
    assert monthly.occurrence(2) == local(2028, 3, 31)
    quarterly = Calendar(local(2027, 11, 30), 3, "month")
    assert [quarterly.occurrence(k) for k in range(1, 4)] == [
        local(2028, 2, 29),
        local(2028, 5, 30),
        local(2028, 8, 30),
    ]


def test_yearly_from_29_february():
    yearly = Calendar(local(2028, 2, 29, 3), 1, "year")
    assert [yearly.occurrence(k) for k in range(5)] == [
        local(2028, 2, 29, 3),
        local(2029, 2, 28, 3),
        local(2030, 2, 28, 3),
        local(2031, 2, 28, 3),
        local(2032, 2, 29, 3),  # counted from the first: the 29th again
    ]
    assert yearly.next_after(local(2031, 2, 28, 3)) == local(2032, 2, 29, 3)
    assert yearly.is_occurrence(local(2032, 2, 29, 3))
    assert not yearly.is_occurrence(local(2032, 2, 28, 3))
    assert yearly.cron() == "cron(0 3 28-31 2 ? *)"


def test_yearly_anniversaries_from_a_subscription():
    subscribed = utc(2026, 5, 17, 14, 45, 12)
    anniversaries = Calendar(subscribed, 1, "year")
    assert anniversaries.last_at_or_before(utc(2027, 5, 17, 14, 45, 11), from_k=1) is None
    assert anniversaries.last_at_or_before(utc(2027, 5, 17, 14, 45, 12), from_k=1) == utc(
        2027, 5, 17, 14, 45, 12
    )
    assert anniversaries.last_at_or_before(utc(2029, 1, 1), from_k=1) == utc(2028, 5, 17, 14, 45, 12)
    assert anniversaries.last_at_or_before(subscribed) == subscribed  # from_k=0 counts the subscription
    assert anniversaries.between(utc(2026, 1, 1), utc(2029, 1, 1)) == [
        subscribed,
        utc(2027, 5, 17, 14, 45, 12),
        utc(2028, 5, 17, 14, 45, 12),
    ]
    biennial = Calendar(subscribed, 2, "year")
    assert biennial.next_after(subscribed) == utc(2028, 5, 17, 14, 45, 12)


def test_yearly_calendar_cron_names_its_day_and_month():
    assert Calendar(local(2027, 1, 1, 3), 1, "year").cron() == "cron(0 3 1 1 ? *)"
    assert Calendar(local(2027, 6, 15, 4, 30), 1, "month").cron() == "cron(30 4 15 * ? *)"


# ---------------------------------------------------------------- weekly and n-daily


def test_weekly():
    weekly = Calendar(local(2026, 1, 5, 9), 1, "week")  # a Monday
    assert weekly.cron() == "cron(0 9 ? * MON *)"
    assert weekly.occurrence(3) == local(2026, 1, 26, 9)
    assert weekly.is_occurrence(local(2026, 1, 12, 9))
    assert not weekly.is_occurrence(local(2026, 1, 13, 9))
    assert weekly.next_after(local(2026, 1, 6)) == local(2026, 1, 12, 9)
    assert weekly.last_before(local(2026, 1, 12, 9)) == local(2026, 1, 5, 9)
    sunday_late = Calendar(local(2026, 1, 4, 23, 30), 1, "week")  # Sunday 22:30 UTC
    assert sunday_late.cron() == "cron(30 23 ? * SUN *)"


def test_periods_the_cron_cannot_say_fire_daily_and_the_calendar_filters():
    fortnightly = Calendar(local(2026, 1, 5, 9), 2, "week")
    every_3_days = Calendar(local(2026, 1, 5, 9), 3, "day")
    assert fortnightly.cron() == every_3_days.cron() == "cron(0 9 * * ? *)"
    assert fortnightly.is_occurrence(local(2026, 1, 19, 9))
    assert not fortnightly.is_occurrence(local(2026, 1, 12, 9))
    assert every_3_days.between(local(2026, 1, 5, 9), local(2026, 1, 14, 9)) == [
        local(2026, 1, 8, 9),
        local(2026, 1, 11, 9),
        local(2026, 1, 14, 9),
    ]


# ---------------------------------------------------------------- edges


def test_before_the_first_occurrence():
    daily = Calendar(local(2026, 1, 1))
    assert daily.last_at_or_before(utc(2025, 6, 1)) is None
    assert daily.last_before(daily.first) is None
    assert daily.next_after(utc(2020, 1, 1)) == daily.first
    assert not daily.is_occurrence(daily.first - timedelta(days=1))
    with pytest.raises(ValueError):
        daily.occurrence(-1)


def test_between_is_open_at_the_start_and_closed_at_the_end():
    daily = Calendar(local(2026, 1, 1))
    assert daily.between(local(2026, 1, 2), local(2026, 1, 4)) == [local(2026, 1, 3), local(2026, 1, 4)]
    assert daily.between(local(2026, 1, 2), local(2026, 1, 2)) == []


def test_the_end_of_time_stops_the_calendar():
    monthly = Calendar(local(9999, 11, 15), 1, "month")
    assert monthly.occurrence(1) == local(9999, 12, 15)
    assert monthly.occurrence(2) == END_OF_TIME
    assert monthly.next_after(local(9999, 12, 15)) == END_OF_TIME
    assert monthly.between(local(9999, 1, 1), END_OF_TIME) == [local(9999, 11, 15), local(9999, 12, 15)]


# ---------------------------------------------------------------- properties


def _reference(first: datetime, value: int, unit: str, k: int) -> datetime:
    """Occurrence k from dateutil, in GMT+1 wall time (clamped to the month's end)."""
    start = first.astimezone(PROGRAM_TZ)
    step = {
        "day": relativedelta(days=k * value),
        "week": relativedelta(weeks=k * value),
        "month": relativedelta(months=k * value),
        "year": relativedelta(years=k * value),
    }[unit]
    return (start + step).astimezone(UTC)


calendars = st.builds(
    Calendar,
    first=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31)).map(
        lambda moment: moment.replace(microsecond=0, tzinfo=UTC)
    ),
    value=st.integers(1, 13),
    unit=st.sampled_from(["day", "week", "month", "year"]),
)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, k=st.integers(0, 400))
def test_occurrences_navigation_agrees(calendar, k):
    at = calendar.occurrence(k)
    following = calendar.occurrence(k + 1)
    assert at == _reference(calendar.first, calendar.value, calendar.unit, k)
    assert following > at
    assert calendar.is_occurrence(at)
    assert calendar.next_after(at) == following
    assert calendar.next_after(at - timedelta(seconds=1)) == at
    assert calendar.last_at_or_before(at) == at
    assert calendar.last_at_or_before(at + timedelta(seconds=1)) == at
    assert calendar.last_at_or_before(following - timedelta(seconds=1)) == at
    assert calendar.last_before(following) == at
    assert not calendar.is_occurrence(at + timedelta(seconds=1))
    assert calendar.between(at - timedelta(seconds=1), following) == [at, following]


@settings(max_examples=300, deadline=None)
@given(
    calendar=calendars,
    offset=st.timedeltas(min_value=timedelta(days=-400), max_value=timedelta(days=40_000)).map(
        lambda delta: delta - timedelta(microseconds=delta.microseconds)
    ),
)
def test_any_instant_lies_between_its_last_and_next_occurrences(calendar, offset):
    moment = calendar.first + offset
    last = calendar.last_at_or_before(moment)
    following = calendar.next_after(moment)
    assert following > moment
    assert calendar.is_occurrence(following)
    if last is None:
        assert following == calendar.first and moment < calendar.first
    else:
        assert last <= moment and calendar.is_occurrence(last)
        assert calendar.next_after(last) == following  # nothing in between
        assert calendar.is_occurrence(moment) == (last == moment)
