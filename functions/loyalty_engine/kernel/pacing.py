"""Pacing writes to one partition. DynamoDB serves at most 1,000 write units per second on a
partition, on demand or not; a writer that could go faster (the importer writing a group's
reward catalog, which is one partition) spends its units no faster than a set rate instead of
being throttled and retrying.

The rate is over the whole run: before each request the pacer waits until the units already
sent fit in the time since the first (no burst beyond one request)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

# The pacing clock (seconds, monotonic). A benchmark that runs on a simulator puts its own here
# (without the simulator's time), so that the pace holds against the time AWS would take.
now: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep

WRITE_UNIT_BYTES = 1024


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it, near enough to pace by: every attribute name and value
    (values as their text; nested maps and lists whole)."""
    return sum(len(name.encode()) + len(str(value).encode()) for name, value in item.items())


def write_units(items: Iterable[dict[str, Any]]) -> int:
    """Write units of putting `items` (plain values): one per started KB of each."""
    return sum(max(1, math.ceil(item_bytes(item) / WRITE_UNIT_BYTES)) for item in items)


class WritePacer:
    def __init__(self, units_per_s: float, sleep: Callable[[float], None] | None = None):
        if units_per_s <= 0:
            raise ValueError("units_per_s must be positive")
        self.units_per_s = units_per_s
        self.spent = 0
        self.slept_s = 0.0
        self._sleep = sleep  # None: the module's `sleep`, looked up when waiting
        self._started: float | None = None
        self._lock = threading.Lock()  # threads writing to one partition wait their turn

    def spend(self, units: int) -> None:
        """Wait until `units` more may be sent, then count them."""
        if units <= 0:
            return
        with self._lock:
            current = now()
            if self._started is None:
                self._started = current
            wait = self._started + self.spent / self.units_per_s - current
            if wait > 0:
                (self._sleep or sleep)(wait)
                self.slept_s += wait
            self.spent += units
