"""The local gateway's usage plans: per usage identifier key (what the authorizer returns, as
API Gateway counts with key source AUTHORIZER), a token bucket of the group's rate and burst
and a count per UTC day against its optional daily quota.

The limits are the group's as stored by `loyalty-admin quotas set` (the group item's `quota`,
read again after `LIMITS_TTL_S`), or the stage's default plan for the default key and for
groups without limits of their own: `LOCAL_DEFAULT_LIMITS` on the local stack (generous, so
that the stress tests and the demo are not throttled), `access.quotas.DEFAULT_LIMITS` (the
deployed stages' default plan) when a test asks for it. A request over them is a 429
in the API's error shape with `Retry-After`: `throttled` (rate or burst) or `quota_exceeded`
(the day's quota; retry after the next UTC midnight). As on API Gateway, a request without a
usage key is a 403.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from local_stack.gateway_http import GatewayError, forbidden
from loyalty_engine.access.quotas import (
    DailyCount,
    GroupQuota,
    QuotaLimits,
    TokenBucket,
    retry_after,
)

LIMITS_TTL_S = 1.0  # how soon a change of a group's limits is seen
LOCAL_DEFAULT_LIMITS = QuotaLimits(rate_per_second=1000, burst=2000)


def throttled(seconds: float) -> GatewayError:
    return GatewayError(
        429, "throttled", "too many requests: slow down", headers={"Retry-After": retry_after(seconds)}
    )


def quota_exceeded(seconds: float) -> GatewayError:
    return GatewayError(
        429,
        "quota_exceeded",
        "the daily request quota of this loyalty group is used up",
        headers={"Retry-After": retry_after(seconds)},
    )


class UsagePlans:
    """Admission per usage key. `quota_of(group)` reads the group's stored quota; `clock`
    (monotonic seconds) runs the buckets and `wall_clock` the daily counts (tests replace them)."""

    def __init__(
        self,
        quota_of: Callable[[str], GroupQuota | None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        default_limits: QuotaLimits = LOCAL_DEFAULT_LIMITS,
    ):
        self.default_limits = default_limits
        self.clock = clock
        self.wall_clock = wall_clock
        self._quota_of = quota_of
        self._lock = threading.Lock()
        self._limits: dict[str, tuple[float, GroupQuota | None]] = {}  # by group: (read at, quota)
        self._buckets: dict[str, TokenBucket] = {}  # by usage key
        self._days: dict[str, DailyCount] = {}  # by usage key

    def admit(self, usage_key: str | None, group: str) -> None:
        """Count one request of `group` under `usage_key`, or raise the gateway's 429 (or 403)."""
        if not usage_key:
            raise forbidden()
        limits = self._limits_for(usage_key, group)
        now, today = self.clock(), self.wall_clock()
        with self._lock:
            day = self._days.setdefault(usage_key, DailyCount(today.date()))
            wait = day.wait(limits.daily_quota, today)
            if wait:
                raise quota_exceeded(wait)
            bucket = self._buckets.get(usage_key)
            if bucket is None:
                bucket = self._buckets[usage_key] = TokenBucket.full(limits, now)
            elif (bucket.rate, bucket.burst) != (limits.rate_per_second, limits.burst):
                bucket.resize(limits)
            wait = bucket.take(now)
            if wait:
                raise throttled(wait)
            day.add()

    def _limits_for(self, usage_key: str, group: str) -> QuotaLimits:
        now = self.clock()
        with self._lock:
            cached = self._limits.get(group)
        if cached is None or now - cached[0] >= LIMITS_TTL_S:
            cached = (now, self._quota_of(group))
            with self._lock:
                self._limits[group] = cached
        quota = cached[1]
        if quota is not None and quota.usage_key == usage_key:
            return quota.limits or self.default_limits
        return self.default_limits  # the stage's default key (shared), or a key the group no longer has

    def reset(self) -> None:
        """Forget every bucket, count and cached limit (tests)."""
        with self._lock:
            self._limits.clear()
            self._buckets.clear()
            self._days.clear()
