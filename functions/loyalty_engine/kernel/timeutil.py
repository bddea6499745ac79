"""Times: always timezone-aware, stored as UTC ISO-8601 strings with a `Z` suffix."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime

DurationUnit = Literal["day", "week", "month", "year"]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return moment.astimezone(UTC).replace(microsecond=0)


END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def add_duration(moment: datetime, value: int, unit: DurationUnit) -> datetime:
    """Calendar arithmetic: months and years keep the day of month, clamped to the month's end.

    Past year 9999 the result is END_OF_TIME (a program may start far in the future).
    """
    try:
        return _add(moment, value, unit)
    except (OverflowError, ValueError):
        return END_OF_TIME


def _add(moment: datetime, value: int, unit: DurationUnit) -> datetime:
    if unit == "day":
        return moment + timedelta(days=value)
    if unit == "week":
        return moment + timedelta(weeks=value)
    months = value if unit == "month" else 12 * value
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _utc_validator(moment: datetime) -> datetime:
    try:
        return to_utc(moment)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+09:00 has no UTC equivalent
        raise ValueError("the date-time is out of range once converted to UTC") from None


# An input datetime with a required offset, normalised to UTC (whole seconds) on the way in.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc_validator)]
