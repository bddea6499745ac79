"""Recurring instants: a first instant and a period, reckoned in the wall time of a program's zone.

Calendar periods (days, weeks, months, years, anniversaries) are counted in the wall time of
the program's IANA time zone (`Program.time_zone`; by default `Etc/GMT-1`, the fixed GMT+1
the partners' files speak), daylight saving included: "daily at 00:00 Europe/Paris" is 23:00
UTC in winter and 22:00 UTC in summer, "monthly from 1 January 00:00" is the first of every
month at midnight there. Each occurrence is counted from the first one, not from the
previous one, so that a month-end clamp does not drift: 31 Jan, 28 Feb, 31 Mar, 30 Apr, ...

Across a daylight saving change (`kernel.timeutil.instant_of`):
- a wall time that happens twice (clocks set back) is its first instant: EventBridge Scheduler
  fires such a time once, the first time;
- a wall time that does not happen (clocks set forward: 02:30 on the last Sunday of March in
  Europe/Paris) moves as far past the change as it was into the gap: 03:30 that day. Scheduler
  skips a wall time that does not exist, so the cron of a calendar whose wall time can fall
  into a gap also fires at the moved time (`cron`), and the starter keeps only occurrences.
The first occurrence is the given instant itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from functools import cache

from loyalty_engine.kernel.timeutil import (
    DEFAULT_TIME_ZONE,
    END_OF_TIME,
    DurationUnit,
    add_duration,
    instant_of,
    time_zone,
    wall_time,
)

# The default zone as a fixed offset: what the seeds call GMT+1 (the files always speak it).
PROGRAM_TZ = timezone(timedelta(hours=1), "GMT+1")
# EventBridge Scheduler reads IANA names; POSIX-style Etc zones invert the sign: Etc/GMT-1 is UTC+1.
SCHEDULER_TIMEZONE = DEFAULT_TIME_ZONE
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_FIXED = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
_GAP_YEARS = 3  # years of a zone's daylight saving changes read for a cron


@dataclass(frozen=True)
class Calendar:
    first: datetime  # UTC, the occurrence number 0
    value: int = 1
    unit: DurationUnit = "day"
    time_zone: str = DEFAULT_TIME_ZONE  # an IANA name: the calendar counts in its wall time

    def occurrence(self, k: int) -> datetime:
        if k < 0:
            raise ValueError("occurrences are numbered from 0")
        if k == 0:
            return self.first
        wall = add_duration(self._wall(self.first), k * self.value, self.unit)
        if wall.tzinfo is not None:  # past year 9999
            return END_OF_TIME
        return instant_of(wall, time_zone(self.time_zone))

    def _wall(self, moment: datetime) -> datetime:
        return wall_time(moment, time_zone(self.time_zone))

    def _estimate(self, moment: datetime) -> int:
        """An occurrence number at most one away from the last occurrence at or before `moment`."""
        a, b = self._wall(self.first), self._wall(moment)
        if self.unit in _FIXED:
            return (b - a) // (_FIXED[self.unit] * self.value)
        months = (b.year - a.year) * 12 + b.month - a.month
        per = self.value * (12 if self.unit == "year" else 1)
        return months // per

    def last_at_or_before(self, moment: datetime, *, from_k: int = 0) -> datetime | None:
        """The latest occurrence (number >= `from_k`) at or before `moment`, if any."""
        k = max(from_k, self._estimate(moment) + 1)
        while k >= from_k:
            at = self.occurrence(k)
            if at <= moment:
                return at
            k -= 1
        return None

    def last_before(self, moment: datetime) -> datetime | None:
        return self.last_at_or_before(moment - timedelta(microseconds=1))

    def next_after(self, moment: datetime) -> datetime:
        k = max(0, self._estimate(moment) - 1)
        while (at := self.occurrence(k)) <= moment and at != END_OF_TIME:
            k += 1
        return at

    def is_occurrence(self, moment: datetime) -> bool:
        return self.last_at_or_before(moment) == moment

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """Occurrences in (start, end]."""
        found = []
        at = self.next_after(start)
        while at <= end and at != END_OF_TIME:
            found.append(at)
            at = self.next_after(at)
        return found

    def cron(self, since: datetime | None = None) -> str:
        """An EventBridge Scheduler cron expression, read in the calendar's zone, that fires at
        every occurrence from `since` (default: the first). It may fire more often (days 28-31
        for a month-end calendar, every day for a period of several days, the hour after a wall
        time that a spring-forward change can skip); the run's starter ignores what is not an
        occurrence."""
        local = self._wall(self.first)
        start_year = max(self.first, since or self.first).astimezone(UTC).year
        wall = local.hour * 60 + local.minute
        walls = {wall} | {
            wall + gap for gap in _gaps_at(self.time_zone, start_year, wall) if wall + gap < 1440
        }
        minutes = ",".join(str(m) for m in sorted({w % 60 for w in walls}))
        hours = ",".join(str(h) for h in sorted({w // 60 for w in walls}))
        if self.unit == "week" and self.value == 1:
            return f"cron({minutes} {hours} ? * {_DAYS[local.weekday()]} *)"
        if self.unit in ("month", "year"):
            day = str(local.day) if local.day <= 28 else "28-31"
            month = "*" if self.unit == "month" else str(local.month)
            return f"cron({minutes} {hours} {day} {month} ? *)"
        return f"cron({minutes} {hours} * * ? *)"


def midnight_on_or_after(moment: datetime, hour: int = 0, zone_name: str = DEFAULT_TIME_ZONE) -> datetime:
    """The first `hour`:00 of the zone's wall time at or after `moment`, in UTC (an hour that a
    spring-forward change skips is moved past it, as calendars move it)."""
    zone = time_zone(zone_name)
    day = wall_time(moment, zone).date()
    for days in range(3):
        try:
            at = instant_of(datetime.combine(day + timedelta(days=days), time(hour)), zone)
        except OverflowError:
            break
        if at >= moment:
            return at
    return END_OF_TIME


@cache
def _gaps(zone_name: str, start_year: int) -> tuple[tuple[datetime, int], ...]:
    """The zone's spring-forward gaps in `_GAP_YEARS` years from `start_year`: (the naive wall
    time the clocks leave, the minutes they skip)."""
    zone = time_zone(zone_name)
    try:
        moment, end = (
            datetime(start_year, 1, 1, tzinfo=UTC),
            datetime(start_year + _GAP_YEARS, 1, 1, tzinfo=UTC),
        )
    except ValueError:
        return ()
    found = []
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        try:
            following = moment + timedelta(days=1)
            after = following.astimezone(zone).utcoffset()
        except OverflowError:
            break
        if after != offset and offset is not None and after is not None:
            low, high = 0, 1440  # minutes: the change lies in (moment + low, moment + high]
            while high - low > 1:
                middle = (low + high) // 2
                if (moment + timedelta(minutes=middle)).astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            if after > offset:
                change = moment + timedelta(minutes=high)
                left = (change + offset).replace(tzinfo=None)
                found.append((left, int((after - offset).total_seconds()) // 60))
        offset, moment = after, following
    return tuple(found)


def _gaps_at(zone_name: str, start_year: int, wall: int) -> set[int]:
    """The lengths (minutes) of the gaps the wall time `wall` (minutes after midnight) falls into."""
    hits = set()
    for left, minutes in _gaps(zone_name, start_year):
        for day in {left.date(), (left + timedelta(minutes=minutes)).date()}:
            moment = datetime.combine(day, time()) + timedelta(minutes=wall)
            if left <= moment < left + timedelta(minutes=minutes):
                hits.add(minutes)
    return hits
