"""Per-group quotas on the local gateway: limits set with `loyalty-admin quotas set` (stored on
the group, as on a deployed stage) are enforced per group: a flood from one group gets 429 in
the API's error shape with Retry-After, while another group's calls pass. The buckets' and
the days' clocks are moved by hand, nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from local_stack.gateway_quotas import UsagePlans
from local_stack.stack import LocalStack
from loyalty_engine.access.quotas import DEFAULT_LIMITS
from loyalty_engine.cli import main

TIMEOUT = 60


class Clocks:
    def __init__(self) -> None:
        self.now = 1000.0
        self.wall = datetime(2027, 3, 1, 23, 59, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.now

    def wall_clock(self) -> datetime:
        return self.wall


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack.start(default_limits=DEFAULT_LIMITS) as running:  # the deployed default plan
        yield running


@pytest.fixture
def clocks(stack: LocalStack) -> Iterator[Clocks]:
    plans = stack.gateway.usage_plans
    assert isinstance(plans, UsagePlans)
    fake, real = Clocks(), (plans.clock, plans.wall_clock)
    plans.clock, plans.wall_clock = fake.monotonic, fake.wall_clock
    yield fake
    plans.clock, plans.wall_clock = real
    for group in ("demo", "demo-b"):
        assert main(["quotas", "set", "--group", group, "--default"]) == 0
    _forget(stack)


def _forget(stack: LocalStack) -> None:
    """Limits apply once the callers' cached authorizations (60 s) and limits (1 s) are renewed."""
    stack.gateway.cache.clear()
    assert stack.gateway.usage_plans is not None
    stack.gateway.usage_plans.reset()


def _call(stack: LocalStack, group: str) -> requests.Response:
    token = stack.keys[group]["admin"]
    return requests.get(
        f"{stack.api_url}/v1/api-keys", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )


def _set(stack: LocalStack, *args: str) -> None:
    assert main(["quotas", "set", *args]) == 0
    _forget(stack)


def test_a_flood_from_one_group_gets_429_while_another_groups_calls_pass(
    stack: LocalStack, clocks: Clocks
) -> None:
    _set(stack, "--group", "demo", "--rate", "2", "--burst", "5")
    flood = [_call(stack, "demo") for _ in range(12)]
    assert [answer.status_code for answer in flood] == [200] * 5 + [429] * 7
    refused = flood[-1]
    assert refused.json() == {"code": "throttled", "message": "too many requests: slow down"}
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/json"
    # The other group, on the stage's default plan, is not touched by the flood.
    assert [_call(stack, "demo-b").status_code for _ in range(20)] == [200] * 20
    clocks.now += 1.0  # two tokens (rate 2/s) are back
    assert [_call(stack, "demo").status_code for _ in range(3)] == [200, 200, 429]


def test_a_daily_quota_refuses_until_the_next_utc_day(stack: LocalStack, clocks: Clocks) -> None:
    _set(stack, "--group", "demo-b", "--rate", "100", "--burst", "100", "--quota", "3")
    statuses = [_call(stack, "demo-b").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = _call(stack, "demo-b")
    assert refused.json()["code"] == "quota_exceeded"
    assert refused.headers["Retry-After"] == "60"  # 23:59:00 UTC: the quota is back at midnight
    assert _call(stack, "demo").status_code == 200
    clocks.wall += timedelta(minutes=1)
    assert _call(stack, "demo-b").status_code == 200


def test_back_on_the_default_plan_the_default_limits_apply(stack: LocalStack, clocks: Clocks) -> None:
    _set(stack, "--group", "demo", "--rate", "1", "--burst", "1")
    assert [_call(stack, "demo").status_code for _ in range(2)] == [200, 429]
    _set(stack, "--group", "demo", "--default")
    statuses = [_call(stack, "demo").status_code for _ in range(DEFAULT_LIMITS.burst + 1)]
    assert statuses == [200] * DEFAULT_LIMITS.burst + [429]


def test_groups_put_on_the_default_plan_each_get_their_own_bucket(stack: LocalStack, clocks: Clocks) -> None:
    _set(stack, "--group", "demo", "--default")
    _set(stack, "--group", "demo-b", "--default")
    statuses = [_call(stack, "demo").status_code for _ in range(DEFAULT_LIMITS.burst + 1)]
    assert statuses[-2:] == [200, 429]
    assert _call(stack, "demo-b").status_code == 200


def test_quotas_show_and_refusals(
    stack: LocalStack, clocks: Clocks, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(stack, "--group", "demo", "--rate", "7", "--burst", "9", "--quota", "1000")
    capsys.readouterr()
    assert main(["quotas", "show", "--group", "demo"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["plan"] == "group"
    assert shown["limits"] == {"rate_per_second": 7, "burst": 9, "daily_quota": 1000}
    assert main(["quotas", "set", "--group", "no-such-group", "--rate", "1", "--burst", "1"]) == 2
    assert "group_not_found" in capsys.readouterr().err
    assert main(["quotas", "set", "--group", "demo", "--rate", "0", "--burst", "1"]) == 2
    assert main(["quotas", "set", "--group", "demo", "--rate", "5"]) == 2  # no burst
    assert main(["quotas", "set", "--group", "demo", "--default", "--rate", "5", "--burst", "5"]) == 2
    assert main(["quotas", "show", "--group", "demo"]) == 0
    assert json.loads(capsys.readouterr().out)["limits"]["burst"] == 9  # the refusals changed nothing
    assert main(["quotas", "set", "--group", "demo", "--default"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"] == "default"


def test_new_groups_on_the_default_plan_each_get_their_own_bucket_without_a_quota_step(
    stack: LocalStack, clocks: Clocks, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = {}
    for group in ("fresh-a", "fresh-b"):  # made with create-key only: no `quotas` command
        assert main(["create-key", "--group", group, "--scope", "admin"]) == 0
        tokens[group] = capsys.readouterr().out.strip()

    def call(group: str) -> int:
        headers = {"Authorization": f"Bearer {tokens[group]}"}
        return requests.get(f"{stack.api_url}/v1/api-keys", headers=headers, timeout=TIMEOUT).status_code

    statuses = [call("fresh-a") for _ in range(DEFAULT_LIMITS.burst + 1)]
    assert statuses == [200] * DEFAULT_LIMITS.burst + [429]
    assert [call("fresh-b") for _ in range(10)] == [200] * 10
    assert [_call(stack, group).status_code for group in ("demo", "demo-b")] == [200, 200]
