"""A group's quota on a deployed stage, against moto's API Gateway: `loyalty-admin quotas set`
creates the group's API Gateway key and plan idempotently and moves the key between its own
plan and the stage's default one; the authorizer returns the group's key as the usage
identifier once it is in a plan, and the stage's default key before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from loyalty_engine.access.quota_use_cases import (
    ensure_own_usage_key,
    set_group_quota,
    sync_usage_keys,
    usage_key_for,
)
from loyalty_engine.access.quotas import QuotaLimits, default_usage_key, usage_key_of
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.usage_plan_store import UsagePlanStore
from loyalty_engine.access.use_cases import create_api_key
from loyalty_engine.cli import main
from loyalty_engine.handlers import authorizer
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.errors import NotFound
from loyalty_engine.kernel.settings import forget
from tests.support.api import LambdaContext, load_event

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DEFAULT_KEY = default_usage_key("dev")


class Stage:
    def __init__(self) -> None:
        self.apigw = boto3.client("apigateway", region_name="eu-west-1")
        api = self.apigw.create_rest_api(name="loyalty-engine-dev")
        self.api_id = api["id"]
        root = self.apigw.get_resources(restApiId=self.api_id)["items"][0]["id"]
        self.apigw.put_method(
            restApiId=self.api_id, resourceId=root, httpMethod="GET", authorizationType="NONE"
        )
        self.apigw.put_integration(restApiId=self.api_id, resourceId=root, httpMethod="GET", type="MOCK")
        self.apigw.create_deployment(restApiId=self.api_id, stageName="api")
        plan = self.apigw.create_usage_plan(
            name="default",
            apiStages=[{"apiId": self.api_id, "stage": "api"}],
            throttle={"rateLimit": 50.0, "burstLimit": 100},
        )
        self.default_plan = plan["id"]
        key = self.apigw.create_api_key(name="loyalty-dev-default", value=DEFAULT_KEY, enabled=True)
        self.apigw.create_usage_plan_key(usagePlanId=self.default_plan, keyId=key["id"], keyType="API_KEY")

    def plans(self) -> UsagePlanStore:
        return UsagePlanStore(
            self.apigw,
            rest_api_id=self.api_id,
            stage="api",
            stage_name="dev",
            default_plan_id=self.default_plan,
        )

    def plans_of(self, key_id: str) -> list[dict[str, Any]]:
        return self.apigw.get_usage_plans(keyId=key_id)["items"]

    def keys_named(self, name: str) -> list[dict[str, Any]]:
        return [k for k in self.apigw.get_api_keys(includeValues=True)["items"] if k["name"] == name]


@pytest.fixture
def store(table) -> GroupStore:
    groups = GroupStore(client(), table[1])
    create_api_key(groups, "demo", ["admin"])
    create_api_key(groups, "demo-b", ["admin"])
    return groups


@pytest.fixture
def stage(table) -> Stage:
    return Stage()


def test_limits_create_the_groups_key_and_plan_once(store: GroupStore, stage: Stage) -> None:
    limits = QuotaLimits(rate_per_second=20, burst=40, daily_quota=10_000)
    first = set_group_quota(store, stage.plans(), "demo", limits, NOW)
    again = set_group_quota(store, stage.plans(), "demo", limits, NOW)
    assert again == first
    (key,) = stage.keys_named("loyalty-dev-demo")
    assert key["id"] == first.usage_key_id and key["value"] == usage_key_of("demo", stage.api_id)
    assert key["value"] == first.usage_key and "lk." not in key["value"]  # not a caller's secret
    (plan,) = stage.plans_of(key["id"])
    assert plan["name"] == "loyalty-dev-group-demo" and plan["id"] == first.usage_plan_id
    assert plan["apiStages"] == [{"apiId": stage.api_id, "stage": "api"}]
    assert plan["throttle"] == {"rateLimit": 20.0, "burstLimit": 40}
    assert plan["quota"]["limit"] == 10_000 and plan["quota"]["period"] == "DAY"
    assert store.get_quota("demo") == first


def test_new_limits_update_the_plan_and_default_moves_the_key(store: GroupStore, stage: Stage) -> None:
    made = set_group_quota(store, stage.plans(), "demo", QuotaLimits(rate_per_second=20, burst=40), NOW)
    set_group_quota(
        store, stage.plans(), "demo", QuotaLimits(rate_per_second=5, burst=10, daily_quota=99), NOW
    )
    (plan,) = stage.plans_of(str(made.usage_key_id))
    assert int(plan["throttle"]["rateLimit"]) == 5 and int(plan["throttle"]["burstLimit"]) == 10
    assert int(plan["quota"]["limit"]) == 99
    back = set_group_quota(store, stage.plans(), "demo", None, NOW)
    assert back.usage_key_id == made.usage_key_id and back.usage_plan_id == stage.default_plan
    assert [p["id"] for p in stage.plans_of(str(made.usage_key_id))] == [stage.default_plan]
    assert back.limits is None


def test_an_unknown_group_changes_nothing_on_api_gateway(store: GroupStore, stage: Stage) -> None:
    with pytest.raises(NotFound):
        set_group_quota(store, stage.plans(), "nobody", QuotaLimits(rate_per_second=1, burst=1), NOW)
    assert stage.keys_named("loyalty-dev-nobody") == []


@pytest.fixture
def authorizer_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DEFAULT_USAGE_KEY", DEFAULT_KEY)
    forget()
    yield
    monkeypatch.delenv("DEFAULT_USAGE_KEY")
    forget()


def _usage_key(token: str) -> str | None:
    event = load_event("authorizer_request")
    event["headers"] = {"authorization": f"Bearer {token}"}
    return authorizer.handler(event, LambdaContext()).get("usageIdentifierKey")


def test_the_authorizer_returns_the_groups_key_once_it_has_one(
    store: GroupStore, stage: Stage, authorizer_env: None
) -> None:
    demo, other = create_api_key(store, "demo", ["shop"]), create_api_key(store, "demo-b", ["shop"])
    assert _usage_key(demo) == DEFAULT_KEY == _usage_key(other)
    made = set_group_quota(store, stage.plans(), "demo", QuotaLimits(rate_per_second=3, burst=3), NOW)
    assert _usage_key(demo) == made.usage_key != DEFAULT_KEY
    assert _usage_key(other) == DEFAULT_KEY
    assert usage_key_for(store, "demo", None) == (made.usage_key, False)
    assert usage_key_for(store, "demo-b", DEFAULT_KEY) == (DEFAULT_KEY, True)


def test_a_group_without_its_own_key_is_logged_as_sharing_the_default_key(
    store: GroupStore, stage: Stage, authorizer_env: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = create_api_key(store, "demo", ["shop"])
    assert _usage_key(token) == DEFAULT_KEY
    (shared,) = [record for record in caplog.records if record.getMessage() == "shared_usage_key"]
    assert shared.levelname == "WARNING" and shared.group == "demo"  # type: ignore[attr-defined]
    ensure_own_usage_key(store, stage.plans(), "demo", NOW)
    caplog.clear()
    assert _usage_key(token) == usage_key_of("demo", stage.api_id)
    assert [record for record in caplog.records if record.getMessage() == "shared_usage_key"] == []


@pytest.fixture
def stage_env(stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The stage's outputs, as `scripts/stack_env.py` exports them for the operator's command."""
    for name, value in {
        "REST_API_ID": stage.api_id,
        "DEFAULT_USAGE_PLAN_ID": stage.default_plan,
        "STAGE_NAME": "dev",
    }.items():
        monkeypatch.setenv(name, value)
    forget()
    yield
    for name in ("REST_API_ID", "DEFAULT_USAGE_PLAN_ID", "STAGE_NAME"):
        monkeypatch.delenv(name)
    forget()


def test_the_cli_applies_limits_on_the_stages_api(store: GroupStore, stage: Stage, stage_env: None) -> None:
    assert main(["quotas", "set", "--group", "demo-b", "--rate", "4", "--burst", "8"]) == 0
    (key,) = stage.keys_named("loyalty-dev-demo-b")
    (plan,) = stage.plans_of(key["id"])
    assert plan["name"] == "loyalty-dev-group-demo-b" and int(plan["throttle"]["burstLimit"]) == 8


def test_create_key_gives_a_new_group_its_own_key_on_the_default_plan_once(
    store: GroupStore, stage: Stage, stage_env: None
) -> None:
    for _ in range(2):  # the group made, then another key of the same group
        assert main(["create-key", "--group", "acme", "--scope", "admin"]) == 0
    (key,) = stage.keys_named("loyalty-dev-acme")
    assert key["value"] == usage_key_of("acme", stage.api_id)
    assert [plan["id"] for plan in stage.plans_of(key["id"])] == [stage.default_plan]
    quota = store.get_quota("acme")
    assert quota is not None and quota.limits is None and quota.usage_key_id == key["id"]
    assert usage_key_for(store, "acme", DEFAULT_KEY) == (key["value"], False)


def test_sync_gives_every_older_group_its_own_key_once(
    store: GroupStore, stage: Stage, stage_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    limited = QuotaLimits(rate_per_second=3, burst=6)
    set_group_quota(store, stage.plans(), "demo", limited, NOW)  # already has its own key and plan
    create_api_key(store, "old", ["admin"])  # made before groups got a key on creation
    capsys.readouterr()
    assert main(["quotas", "sync"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert sorted(first["given"]) == ["demo-b", "old"] and first["already"] == ["demo"]
    assert main(["quotas", "sync"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["given"] == [] and sorted(again["already"]) == ["demo", "demo-b", "old"]
    for group in ("demo-b", "old"):
        (key,) = stage.keys_named(f"loyalty-dev-{group}")
        assert [plan["id"] for plan in stage.plans_of(key["id"])] == [stage.default_plan]
    (demo_key,) = stage.keys_named("loyalty-dev-demo")
    assert [plan["name"] for plan in stage.plans_of(demo_key["id"])] == ["loyalty-dev-group-demo"]
    assert store.get_quota("demo") is not None and store.get_quota("demo").limits == limited  # type: ignore[union-attr]


def test_sync_repairs_a_key_given_without_the_stages_api(store: GroupStore, stage: Stage) -> None:
    """A group given a key by the command run without REST_API_ID (in no plan of this API)."""
    ensure_own_usage_key(store, None, "demo", NOW)
    report = sync_usage_keys(store, stage.plans(), ["demo", "nobody"], NOW)
    assert report.given == ["demo"] and list(report.failed) == ["nobody"]
    assert usage_key_for(store, "demo", DEFAULT_KEY) == (usage_key_of("demo", stage.api_id), False)
