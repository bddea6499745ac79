"""What is due in a schedule group: its enabled schedules as moto holds them, and their firings
in a window of the virtual clock.

`ScheduleReader.schedules()` lists the group's enabled schedules (ListSchedules, then
GetSchedule for the ones new or changed since the last read). `due(...)` gives every firing
of their expressions (`cron.py`, read in each one's `ScheduleExpressionTimezone`) in
(after, until], within [StartDate, EndDate), oldest first. A schedule whose expression or
zone cannot be read (rate() among them) is never due, with one warning on stderr.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError

from local_stack import aws, cron
from local_stack.virtual_clock import iso_z, utc

_EPSILON = timedelta(microseconds=1)


class ScheduleReader:
    """The enabled schedules of one group (re-read only when modified), and their firings due."""

    def __init__(self, scheduler: Any, group_name: str):
        """`scheduler`: an EventBridge Scheduler client of the local AWS."""
        self.group_name = group_name
        self._scheduler = scheduler
        self._details: dict[str, tuple[Any, dict[str, Any]]] = {}  # arn -> (modified, schedule)
        self._warned: set[tuple[str, str]] = set()

    def schedules(self) -> list[dict[str, Any]]:
        """The group's enabled schedules, as GetSchedule answers (re-read only when modified)."""
        listed: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._scheduler.list_schedules(
                GroupName=self.group_name, State="ENABLED", **({"NextToken": token} if token else {})
            )
            listed.extend(page.get("Schedules", []))
            token = page.get("NextToken")
            if not token:
                break
        found = []
        for summary in listed:
            arn = summary["Arn"]
            modified = summary.get("LastModificationDate")
            cached = self._details.get(arn)
            if cached is None or cached[0] != modified:
                try:
                    detail = self._scheduler.get_schedule(GroupName=self.group_name, Name=summary["Name"])
                except ClientError as error:
                    if aws.error_code(error) == "ResourceNotFoundException":
                        continue  # deleted since listed
                    raise
                cached = (modified, detail)
                self._details[arn] = cached
            found.append(cached[1])
        current = {summary["Arn"] for summary in listed}
        for arn in set(self._details) - current:
            del self._details[arn]
        return found

    def due(
        self,
        schedules: list[dict[str, Any]],
        after: datetime,
        until: datetime,
        *,
        per_schedule: int | None = None,
        limit: int | None = None,
    ) -> tuple[list[tuple[datetime, dict[str, Any]]], int]:
        """(scheduled time, schedule) of every firing of `schedules` in (after, until], oldest
        first, and how many were left out by `per_schedule` (the latest ones are kept).
        ValueError if more than `limit` are due."""
        due: list[tuple[datetime, dict[str, Any]]] = []
        left_out = 0
        for schedule in schedules:
            window = self._window(schedule, after, until)
            if window is None:
                continue
            expression, zone, low, high = window
            times = expression.firings(low, high, zone)
            if per_schedule is not None:
                kept, total = _last(times, per_schedule)
                left_out += total - len(kept)
                if total > len(kept):
                    sys.stderr.write(
                        f"local stack: schedule {schedule['Name']}: {total - len(kept)} firings before "
                        f"{iso_z(kept[0])} skipped (the clock runs faster than the loop fires)\n"
                    )
            else:
                kept = []
                for at in times:
                    kept.append(at)
                    if limit is not None and len(due) + len(kept) > limit:
                        raise ValueError(
                            f"more than {limit} firings due between {iso_z(after)} and {iso_z(until)}: "
                            "advance the clock in smaller steps"
                        )
            due.extend((at, schedule) for at in kept)
        due.sort(key=lambda item: (item[0], item[1]["Name"]))
        return due, left_out

    def _window(
        self, schedule: dict[str, Any], after: datetime, until: datetime
    ) -> tuple[cron.Expression, ZoneInfo, datetime, datetime] | None:
        """The schedule's parsed expression, zone, and the part of (after, until] it may fire in."""
        text = schedule.get("ScheduleExpression", "")
        zone_name = schedule.get("ScheduleExpressionTimezone") or "UTC"
        try:
            expression = cron.parse(text)
            zone = ZoneInfo(zone_name)
        except (ValueError, ZoneInfoNotFoundError) as error:
            if (schedule["Name"], text) not in self._warned:
                self._warned.add((schedule["Name"], text))
                sys.stderr.write(f"local stack: schedule {schedule['Name']} is never fired here: {error}\n")
            return None
        low, high = after, until
        if schedule.get("StartDate") is not None:  # StartDate may fire; EndDate may not
            low = max(low, utc(schedule["StartDate"]) - _EPSILON)
        if schedule.get("EndDate") is not None:
            high = min(high, utc(schedule["EndDate"]) - _EPSILON)
        return (expression, zone, low, high) if low < high else None


def _last(times: Iterator[datetime], count: int) -> tuple[list[datetime], int]:
    """The last `count` items and how many there were."""
    kept: deque[datetime] = deque(maxlen=count)
    total = 0
    for at in times:
        kept.append(at)
        total += 1
    return list(kept), total
