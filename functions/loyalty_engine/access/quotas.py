"""Per-group request quotas (pure): the limits an operator sets on a loyalty group, the usage
key that identifies the group to API Gateway's usage plans, and the token bucket and daily
count the local gateway enforces them with (as API Gateway does with a usage plan).

- `QuotaLimits`: a steady rate (requests per second), a burst (the bucket's size) and an
  optional daily quota (requests per UTC day). A group without limits of its own is on the
  stage's default plan, `DEFAULT_LIMITS`.
- `GroupQuota`: what is stored on the group item (`quota`): the limits (None: the default
  plan) and the API Gateway key and plan they were applied with.
- `usage_key_of`: the value of the group's API Gateway API key. It is derived from the group
  and the API it is used on, never from a caller's secret: with the API's key source set to
  AUTHORIZER, API Gateway takes it from the authorizer only, so it is an identifier, not a
  credential.
- `TokenBucket`, `DailyCount`: the admission decisions; `Retry-After` is how long until the
  request would be admitted (the next token, or the next UTC midnight).
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.model import DeferredModel

MAX_RATE = 10_000  # API Gateway's default account-level rate per region
MAX_BURST = 5_000  # API Gateway's default account-level burst


class QuotaLimits(DeferredModel):
    """A group's request limits, as a usage plan holds them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_second: int = Field(ge=1, le=MAX_RATE, strict=True, description="Steady requests per second")
    burst: int = Field(ge=1, le=MAX_BURST, strict=True, description="Requests allowed at once (bucket size)")
    daily_quota: int | None = Field(
        default=None, ge=1, le=10**12, strict=True, description="Requests per UTC day (null: no daily quota)"
    )


# The deployed stages' default plan: every group without limits of its own (infra/api.py).
DEFAULT_LIMITS = QuotaLimits(rate_per_second=50, burst=100)


class GroupQuota(DeferredModel):
    """The quota state stored on a group item."""

    model_config = ConfigDict(extra="forbid")

    limits: QuotaLimits | None = None  # None: the stage's default plan
    usage_key: str | None = None  # the API Gateway API key's value (an identifier, see module doc)
    usage_key_id: str | None = None  # its API Gateway id (None where no API Gateway is configured)
    usage_plan_id: str | None = None  # the plan the key is in
    updated_at: datetime | None = None


def usage_key_of(group: str, namespace: str) -> str:
    """The group's usage key on an API (`namespace`: the REST API id, or `local`): stable, so that
    applying limits again finds the same key, and at least API Gateway's 20 characters."""
    digest = hashlib.sha256(f"{namespace}:{group}".encode()).hexdigest()[:24]
    return f"lq-{group}-{digest}"


def has_own_usage_key(quota: GroupQuota, group: str, namespace: str) -> bool:
    """The group's stored quota holds its own key on this API (`namespace`): not so for a group
    never given one, nor for a key given on another REST API (the API was re-created) or by
    the local stack's command (no REST_API_ID), which is in no plan of this one."""
    return quota.usage_key == usage_key_of(group, namespace)


def default_usage_key(namespace: str) -> str:
    """The stage's default plan key (`namespace`: the stage's name, or `local`); the dot keeps it
    apart from every group's key."""
    return f"lq.default-plan.{namespace}".ljust(20, "0")


@dataclass
class TokenBucket:
    """A bucket of `burst` tokens refilled at `rate` per second; each request takes one."""

    rate: float
    burst: int
    tokens: float
    updated_at: float

    @classmethod
    def full(cls, limits: QuotaLimits, now: float) -> "TokenBucket":
        return cls(float(limits.rate_per_second), limits.burst, float(limits.burst), now)

    def resize(self, limits: QuotaLimits) -> None:
        """New limits (an operator changed them): keep the tokens, capped by the new burst."""
        self.rate, self.burst = float(limits.rate_per_second), limits.burst
        self.tokens = min(self.tokens, float(self.burst))

    def take(self, now: float) -> float:
        """0 when a token was taken; otherwise the seconds until one will be there."""
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated_at = max(self.updated_at, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class DailyCount:
    """Requests counted per UTC day."""

    day: date
    count: int = 0

    def wait(self, quota: int | None, now: datetime) -> float:
        """0 while the day's count is below the quota; otherwise the seconds until the next UTC
        day. Counts nothing: `add` counts an admitted request."""
        today = now.astimezone(UTC).date()
        if today != self.day:
            self.day, self.count = today, 0
        if quota is not None and self.count >= quota:
            midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
            return (midnight - now).total_seconds()
        return 0.0

    def add(self) -> None:
        self.count += 1


def retry_after(seconds: float) -> str:
    """The `Retry-After` header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
