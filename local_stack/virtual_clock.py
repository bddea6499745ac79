"""The program schedules' virtual clock: it starts at an instant and runs at a speed (86400:
a day per real second), or stands still until moved; it may be paused, moved, and capped.

Only the schedules' firings are on this clock: the handlers' own clock is the real one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; ValueError if it is naive."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is naive: give the clock an aware datetime")
    return moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class VirtualClock:
    """start + speed x real time elapsed, while running; it may be paused, moved, and capped."""

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        *,
        running: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if speed <= 0:
            raise ValueError("the clock's speed must be positive")
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._base = utc(start)
        self._since = monotonic()
        self._speed = float(speed)
        self._running = running
        self._until: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        if not self._running:
            return self._base
        at = self._base + timedelta(seconds=self._speed * (self._monotonic() - self._since))
        return min(at, self._until) if self._until is not None else at

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def running(self) -> bool:
        return self._running

    def set(self, instant: datetime) -> None:
        """Jump to `instant` (running or not, as before; a cap is kept only if still ahead)."""
        with self._lock:
            self._base, self._since = utc(instant), self._monotonic()
            if self._until is not None and self._until <= self._base:
                self._until = None

    def run(self, speed: float | None = None, *, until: datetime | None = None) -> None:
        """Run from the current instant (at `speed`, or as before), stopping at `until` if given."""
        if speed is not None and speed <= 0:
            raise ValueError("the clock's speed must be positive")
        with self._lock:
            self._base, self._since = self._now(), self._monotonic()
            self._speed = float(speed) if speed is not None else self._speed
            self._until = utc(until) if until is not None else None
            self._running = True

    def pause(self) -> None:
        with self._lock:
            self._base, self._since = self._now(), self._monotonic()
            self._running = False
            self._until = None
