"""EventBridge Scheduler's schedule expressions, evaluated locally: when does a schedule fire?

    expression = parse("cron(0 0 28-31 * ? *)")
    list(expression.firings(after, until, ZoneInfo("Etc/GMT-1")))  # UTC instants in (after, until]

- `cron(minutes hours day-of-month month day-of-week year)`, as Scheduler reads it:
  minutes 0-59, hours 0-23, day-of-month 1-31 (or `L`, the month's last day), month 1-12
  or JAN-DEC, day-of-week 1-7 (1 = SUN) or SUN-SAT (also `L` = SAT, `nL` = the month's
  last weekday n, `n#k` = its k-th weekday n), year 1970-2199. Each field takes `*`,
  a value, a range `a-b`, a step `a/n` or `a-b/n` or `*/n`, and lists of those `a,b`.
  One of day-of-month and day-of-week must be `?` (and only one). `W` (nearest weekday)
  is not supported: a ValueError says so.
- `at(yyyy-mm-ddThh:mm:ss)`: one firing, at that wall time.
- `rate(...)`: not supported here (the program schedules are crons).

The fields are read in the schedule's time zone (`ScheduleExpressionTimezone`, an IANA
name). Across a daylight saving change, as Scheduler does, a wall time that does not exist
(spring forward) is skipped and one that happens twice (fall back) fires once, the first time.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1..7, as Scheduler numbers them
MIN_YEAR, MAX_YEAR = 1970, 2199
_WRAPPED = re.compile(r"^\s*(cron|at|rate)\((.*)\)\s*$", re.IGNORECASE)


def aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _value(text: str, low: int, high: int, names: tuple[str, ...], field: str) -> int:
    upper = text.upper()
    if names and upper in names:
        return names.index(upper) + 1
    if not text.isdigit():
        raise ValueError(f"{field}: {text!r} is not a number{' or a name' if names else ''}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{field}: {value} is not in {low}-{high}")
    return value


def _values(text: str, low: int, high: int, field: str, names: tuple[str, ...] = ()) -> frozenset[int]:
    """`*`, `a`, `a-b`, with an optional `/step`, comma-separated."""
    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"{field}: step {step_text!r} is not a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            start, _, end = base.partition("-")
            first = _value(start, low, high, names, field)
            last = _value(end, low, high, names, field)
            if first > last:
                raise ValueError(f"{field}: range {base!r} runs backwards")
        else:
            first = _value(base, low, high, names, field)
            last = high if step_text else first
        found.update(range(first, last + 1, step))
    if not found:
        raise ValueError(f"{field}: {text!r} selects nothing")
    return frozenset(found)


@dataclass(frozen=True)
class DayOfMonth:
    days: frozenset[int]
    last: bool = False  # `L`

    @classmethod
    def parse(cls, text: str) -> DayOfMonth:
        parts = text.split(",")
        last = "L" in (part.upper() for part in parts)
        rest = [part for part in parts if part.upper() != "L"]
        if any("W" in part.upper() for part in rest):
            raise ValueError(f"day-of-month: {text!r}: `W` (nearest weekday) is not supported locally")
        days = _values(",".join(rest), 1, 31, "day-of-month") if rest else frozenset()
        return cls(days, last)

    def matches(self, day: date) -> bool:
        return day.day in self.days or (self.last and day.day == calendar.monthrange(day.year, day.month)[1])


@dataclass(frozen=True)
class DayOfWeek:
    days: frozenset[int]  # 1 = SUN
    lasts: frozenset[int] = frozenset()  # `nL`: the month's last weekday n
    nths: frozenset[tuple[int, int]] = frozenset()  # `n#k`: the month's k-th weekday n

    @classmethod
    def parse(cls, text: str) -> DayOfWeek:
        days: set[int] = set()
        lasts: set[int] = set()
        nths: set[tuple[int, int]] = set()
        plain = []
        for part in text.split(","):
            upper = part.upper()
            if upper == "L":
                days.add(7)  # alone, L is the week's last day: Saturday
            elif upper.endswith("L"):
                lasts.add(_value(part[:-1], 1, 7, WEEKDAYS, "day-of-week"))
            elif "#" in part:
                weekday, _, nth = part.partition("#")
                if not nth.isdigit() or not 1 <= int(nth) <= 5:
                    raise ValueError(f"day-of-week: {part!r}: the week number is 1-5")
                nths.add((_value(weekday, 1, 7, WEEKDAYS, "day-of-week"), int(nth)))
            else:
                plain.append(part)
        if plain:
            days.update(_values(",".join(plain), 1, 7, "day-of-week", WEEKDAYS))
        return cls(frozenset(days), frozenset(lasts), frozenset(nths))

    def matches(self, day: date) -> bool:
        weekday = aws_weekday(day)
        if weekday in self.days:
            return True
        if weekday in self.lasts and day.day + 7 > calendar.monthrange(day.year, day.month)[1]:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nths


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: DayOfMonth | None  # None: `?`
    months: frozenset[int]
    day_of_week: DayOfWeek | None  # None: `?`
    years: frozenset[int]

    @classmethod
    def parse(cls, fields: str) -> Cron:
        parts = fields.split()
        if len(parts) != 6:
            raise ValueError(f"cron({fields}): 6 fields expected (minutes hours day month weekday year)")
        minutes, hours, dom, month, dow, year = parts
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"cron({fields}): exactly one of day-of-month and day-of-week must be `?`")
        return cls(
            minutes=_values(minutes, 0, 59, "minutes"),
            hours=_values(hours, 0, 23, "hours"),
            day_of_month=None if dom == "?" else DayOfMonth.parse(dom),
            months=_values(month, 1, 12, "month", MONTHS),
            day_of_week=None if dow == "?" else DayOfWeek.parse(dow),
            years=_values(year, MIN_YEAR, MAX_YEAR, "year"),
        )

    def matches_date(self, day: date) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_of_month is not None:
            return self.day_of_month.matches(day)
        assert self.day_of_week is not None
        return self.day_of_week.matches(day)

    def firings(self, after: datetime, until: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """The firings in (after, until], in UTC, oldest first (`after`, `until`: aware)."""
        if until <= after:
            return
        times = sorted(time(hour, minute) for hour in self.hours for minute in self.minutes)
        day = after.astimezone(zone).date()
        last_day = until.astimezone(zone).date()
        while day <= last_day:
            if day.year > max(self.years):
                return
            if self.matches_date(day):
                for wall in times:
                    at = _instant(datetime.combine(day, wall), zone)
                    if at is not None and after < at <= until:
                        yield at
            day += timedelta(days=1)


@dataclass(frozen=True)
class At:
    wall: datetime  # naive: the wall time in the schedule's zone

    @classmethod
    def parse(cls, text: str) -> At:
        try:
            wall = datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ValueError(f"at({text}): yyyy-mm-ddThh:mm:ss expected") from None
        return cls(wall)

    def firings(self, after: datetime, until: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        at = _instant(self.wall, zone)
        if at is not None and after < at <= until:
            yield at


Expression = Cron | At


def parse(expression: str) -> Expression:
    """A schedule expression: `cron(...)` or `at(...)`; ValueError for anything else."""
    match = _WRAPPED.match(expression)
    if match is None:
        raise ValueError(f"{expression!r} is not a schedule expression (cron(...), at(...))")
    kind, body = match.group(1).lower(), match.group(2)
    if kind == "cron":
        return Cron.parse(body)
    if kind == "at":
        return At.parse(body)
    raise ValueError(f"{expression!r}: rate expressions are not supported locally")


def firings(expression: str, after: datetime, until: datetime, timezone: str = "UTC") -> list[datetime]:
    """Every firing of `expression` (read in `timezone`) in (after, until], in UTC."""
    return list(parse(expression).firings(after, until, ZoneInfo(timezone)))


def _instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall time in `zone`; None if the wall time does not exist there
    (skipped by a daylight saving change). A repeated wall time is its first instant (fold=0)."""
    at = wall.replace(tzinfo=zone).astimezone(UTC)
    if at.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return at
