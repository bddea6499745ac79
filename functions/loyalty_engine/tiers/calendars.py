"""Recurring instants: a first instant and a period, reckoned in the programs' wall time.

Calendar periods (months, years, anniversaries) are counted in fixed GMT+1, the time the
partners' files speak, so that "monthly from 1 January 00:00" means the first of every
month at midnight GMT+1 (which is the last day of the previous month at 23:00 UTC).
Each occurrence is counted from the first one, not from the previous one, so that a
month-end clamp does not drift: 31 Jan, 28 Feb, 31 Mar, 30 Apr, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from loyalty_engine.kernel.timeutil import END_OF_TIME, DurationUnit, add_duration

PROGRAM_TZ = timezone(timedelta(hours=1), "GMT+1")
# EventBridge Scheduler reads IANA names; POSIX-style Etc zones invert the sign: Etc/GMT-1 is UTC+1.
SCHEDULER_TIMEZONE = "Etc/GMT-1"
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_FIXED = {"day": timedelta(days=1), "week": timedelta(weeks=1)}


@dataclass(frozen=True)
class Calendar:
    first: datetime  # UTC, the occurrence number 0
    value: int = 1
    unit: DurationUnit = "day"

    def occurrence(self, k: int) -> datetime:
        if k < 0:
            raise ValueError("occurrences are numbered from 0")
        local = self.first.astimezone(PROGRAM_TZ)
        moment = add_duration(local, k * self.value, self.unit)
        return moment if moment == END_OF_TIME else moment.astimezone(UTC)

    def _estimate(self, moment: datetime) -> int:
        """An occurrence number at most one away from the last occurrence at or before `moment`."""
        if self.unit in _FIXED:
            return (moment - self.first) // (_FIXED[self.unit] * self.value)
        a, b = self.first.astimezone(PROGRAM_TZ), moment.astimezone(PROGRAM_TZ)
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

    def cron(self) -> str:
        """An EventBridge Scheduler cron expression (in SCHEDULER_TIMEZONE) that fires at every
        occurrence. It may fire more often (e.g. days 28-31 for a month-end calendar, every day
        for a period of several days); the run's starter ignores what is not an occurrence."""
        local = self.first.astimezone(PROGRAM_TZ)
        minute, hour = local.minute, local.hour
        if self.unit == "week" and self.value == 1:
            return f"cron({minute} {hour} ? * {_DAYS[local.weekday()]} *)"
        if self.unit in ("month", "year"):
            day = str(local.day) if local.day <= 28 else "28-31"
            month = "*" if self.unit == "month" else str(local.month)
            return f"cron({minute} {hour} {day} {month} ? *)"
        return f"cron({minute} {hour} * * ? *)"


def midnight_on_or_after(moment: datetime, hour: int = 0) -> datetime:
    """The first `hour`:00 GMT+1 at or after `moment`, in UTC."""
    local = moment.astimezone(PROGRAM_TZ)
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at < local:
        at += timedelta(days=1)
    return at.astimezone(UTC)
