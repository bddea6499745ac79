"""The quota rules: token bucket (never more than burst + rate x time), daily counts per UTC
day, the usage keys, and the local gateway's admission per usage key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from local_stack.gateway_http import GatewayError
from local_stack.gateway_quotas import UsagePlans
from loyalty_engine.access.quotas import (
    DEFAULT_LIMITS,
    DailyCount,
    GroupQuota,
    QuotaLimits,
    TokenBucket,
    default_usage_key,
    has_own_usage_key,
    retry_after,
    usage_key_of,
)


@given(
    rate=st.integers(1, 50),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 0.5, allow_nan=False), min_size=1, max_size=300),
)
def test_a_bucket_admits_at_most_burst_plus_rate_times_elapsed(
    rate: int, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket.full(QuotaLimits(rate_per_second=rate, burst=burst), 0.0)
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        if wait == 0:
            admitted += 1
        else:
            assert 0 < wait <= 1 / rate + 1e-9
            assert bucket.take(now + wait + 1e-9) == 0  # the promised wait is enough
            admitted += 1
            now += wait + 1e-9
        assert admitted <= burst + rate * now + 1e-6


def test_a_full_bucket_admits_its_burst_at_once_then_the_rate() -> None:
    bucket = TokenBucket.full(QuotaLimits(rate_per_second=2, burst=3), 10.0)
    assert [bucket.take(10.0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(10.0) == pytest.approx(0.5)
    assert bucket.take(10.5) == 0
    bucket.resize(QuotaLimits(rate_per_second=1, burst=1))
    assert bucket.take(100.0) == 0 and bucket.take(100.0) == pytest.approx(1.0)


def test_the_daily_count_starts_again_each_utc_day() -> None:
    late = datetime(2027, 3, 1, 23, 0, tzinfo=UTC)
    day = DailyCount(late.date())
    for _ in range(2):
        assert day.wait(2, late) == 0
        day.add()
    assert day.wait(2, late) == 3600
    assert day.wait(None, late) == 0  # no quota: no limit
    assert day.wait(2, late + timedelta(hours=1)) == 0 and day.count == 0
    assert retry_after(0.01) == "1" and retry_after(3600) == "3600" and retry_after(1.2) == "2"


def test_limits_are_validated() -> None:
    for bad in (
        {"rate_per_second": 0, "burst": 1},
        {"rate_per_second": 1, "burst": 0},
        {"rate_per_second": 1},
    ):
        with pytest.raises(ValidationError):
            QuotaLimits.model_validate(bad)
    with pytest.raises(ValidationError):
        QuotaLimits(rate_per_second=1, burst=1, daily_quota=0)


def test_usage_keys_are_stable_distinct_and_long_enough() -> None:
    assert usage_key_of("demo", "abc") == usage_key_of("demo", "abc")
    assert usage_key_of("demo", "abc") != usage_key_of("demo", "xyz") != usage_key_of("demo-b", "xyz")
    assert len(usage_key_of("a", "b")) >= 20 and len(default_usage_key("dev")) >= 20
    assert default_usage_key("local") != usage_key_of("default-plan", "local")


class Clock:
    now = 0.0


def _plans(quotas: dict[str, GroupQuota]) -> tuple[UsagePlans, Clock]:
    clock = Clock()
    wall = datetime(2027, 3, 1, 12, tzinfo=UTC)
    plans = UsagePlans(
        quotas.get, clock=lambda: clock.now, wall_clock=lambda: wall, default_limits=DEFAULT_LIMITS
    )
    return plans, clock


def test_groups_without_a_key_of_their_own_share_the_default_key() -> None:
    plans, _ = _plans({})
    shared = default_usage_key("local")
    for group in ("a", "b") * (DEFAULT_LIMITS.burst // 2):
        plans.admit(shared, group)
    with pytest.raises(GatewayError) as refused:
        plans.admit(shared, "b")
    assert (refused.value.status, refused.value.code, refused.value.headers) == (
        429,
        "throttled",
        {"Retry-After": "1"},
    )


def test_a_groups_own_key_gets_its_limits_and_no_key_is_forbidden() -> None:
    key = usage_key_of("a", "local")
    plans, clock = _plans({"a": GroupQuota(limits=QuotaLimits(rate_per_second=1, burst=2), usage_key=key)})
    plans.admit(key, "a")
    plans.admit(key, "a")
    with pytest.raises(GatewayError):
        plans.admit(key, "a")
    plans.admit(default_usage_key("local"), "a")  # a cached older authorization: the default plan
    clock.now += 1
    plans.admit(key, "a")
    with pytest.raises(GatewayError) as refused:
        plans.admit(None, "a")
    assert refused.value.status == 403


def test_a_group_has_its_own_usage_key_only_on_the_api_it_was_given_on() -> None:
    own = GroupQuota(usage_key=usage_key_of("a", "api1"))
    assert has_own_usage_key(own, "a", "api1")
    assert not has_own_usage_key(own, "a", "api2")  # the REST API was re-created
    assert not has_own_usage_key(own, "b", "api1")
    assert not has_own_usage_key(GroupQuota(), "a", "api1")  # never given one
    assert not has_own_usage_key(GroupQuota(usage_key=default_usage_key("api1")), "a", "api1")


def test_the_openapi_document_lists_the_429_every_route_may_answer() -> None:
    """quotas.md: API Gateway answers any route of a group over its limits with 429 (`throttled`,
    `quota_exceeded`) and `Retry-After`; the document says so for every operation, so that a
    client generated from it expects the answer and its header."""
    from loyalty_engine.handlers.openapi import document

    schema = document()
    operations = [op for ops in schema["paths"].values() for op in ops.values() if "responses" in op]
    assert operations
    for operation in operations:
        answer = operation["responses"]["429"]
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer"}
