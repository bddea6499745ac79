"""Times: always timezone-aware, stored as UTC ISO-8601 strings with a `Z` suffix; wall times of
the programs' IANA time zones."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def add_wall_duration(moment: datetime, value: int, unit: DurationUnit, zone_name: str) -> datetime:
    """`add_duration` counted in the wall time of the zone `zone_name`, as a program counts its
    calendars: a month from 1 March 00:30 GMT+1 ends on 1 April 00:30 GMT+1 (in UTC it would be
    28 February 23:30 + a month: 29 March), and 14 days across a daylight saving change keep the
    hour on the clock."""
    zone = time_zone(zone_name)
    wall = add_duration(wall_time(moment, zone), value, unit)
    return END_OF_TIME if wall.tzinfo is not None else instant_of(wall, zone)


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


# A program's time zone when it names none: fixed UTC+1 all year, the "GMT+1" of the seeds
# (POSIX-style Etc names invert the sign: Etc/GMT-1 is UTC+1).
DEFAULT_TIME_ZONE = "Etc/GMT-1"
# Names ZoneInfo may find on a system that are not IANA zones (EventBridge Scheduler refuses them).
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


def time_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name (ZoneInfo keeps one instance per name)."""
    return ZoneInfo(name)


def known_time_zone(name: str) -> str:
    """`name` if it is an IANA time zone this system knows; ValueError otherwise."""
    problem = f"unknown time zone {name!r}: an IANA name such as Europe/Paris is expected"
    if name in _NOT_ZONES or name.startswith(("posix/", "right/")):
        raise ValueError(problem)
    try:
        time_zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(problem) from None
    return name


def wall_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall time of an instant in `zone` (datetime.max past the end of the calendar)."""
    try:
        return moment.astimezone(zone).replace(tzinfo=None, fold=0)
    except OverflowError:
        return datetime.max


def instant_of(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall time in `zone`, END_OF_TIME past it.

    A wall time that happens twice (clocks set back) is its first instant; one that does not
    happen (clocks set forward, e.g. 02:30 on the last Sunday of March in Europe/Paris) is the
    instant the clock would have shown it without the change: 03:30 new time, as far past the
    change as the wall time is into the gap (PEP 495's fold=0, as java.time does).
    """
    try:
        return min(wall.replace(tzinfo=zone, fold=0).astimezone(UTC), END_OF_TIME)
    except (OverflowError, ValueError):
        return END_OF_TIME
