"""The program schedules are synced after every deploy: the wiring's schedule sync function is
the stack's custom resource, invoked when the stack is created and whenever the schedules'
settings, the code or the deploy id change; Lambda never retries it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aws_cdk import App
from conftest import DEV_DEPLOY_ID
from infra_testing import TEST_CONTEXT, Synthesized, function_resource, schedule_ids

from infra.app import build_app
from infra.schedule_sync import RESOURCE_TYPE
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

(SYNC,) = [spec for spec in wiring.FUNCTIONS if spec.syncs_schedules]
(TARGET,) = [spec for spec in wiring.FUNCTIONS if spec.schedule_target]
SCHEDULES = wiring.PROGRAM_SCHEDULES


def sync_resource(synthesized: Synthesized) -> tuple[str, dict]:
    ((logical_id, resource),) = synthesized.of_type(RESOURCE_TYPE).items()
    return logical_id, resource


def test_the_sync_function_manages_the_schedules_and_nothing_triggers_it_but_the_deploy() -> None:
    assert SYNC.manages_schedules
    assert SYNC.queue_trigger is None and not SYNC.routes and not SYNC.schedule_target
    assert SYNC.table_access == "read" and SYNC.indexes == ("gsi1",)
    assert SYNC.reserved_concurrency == 1  # one sync at a time


def test_the_custom_resource_invokes_the_sync_function(each_stage: Synthesized) -> None:
    function_id, _ = function_resource(each_stage, SYNC)
    _, resource = sync_resource(each_stage)
    properties = resource["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": [function_id, "Arn"]}
    # CloudFormation waits for the answer as long as the function may run, and a little more.
    assert SYNC.timeout_s < int(properties["ServiceTimeout"]) <= SYNC.timeout_s + 600
    # Nothing to keep: deleting it does nothing (the schedule group goes with the stack).
    assert resource["DeletionPolicy"] == "Delete"


def test_a_change_of_the_schedules_settings_or_of_the_code_runs_it_again(each_stage: Synthesized) -> None:
    ids = schedule_ids(each_stage)
    target_id, _ = function_resource(each_stage, TARGET)
    _, function = function_resource(each_stage, SYNC)
    _, resource = sync_resource(each_stage)
    ignored = ("ServiceToken", "ServiceTimeout", "DeployId")  # DeployId: the next test
    properties = {k: v for k, v in resource["Properties"].items() if k not in ignored}
    assert properties == {
        SCHEDULES.group_env: {"Ref": ids.group},
        SCHEDULES.role_env: {"Fn::GetAtt": [ids.role, "Arn"]},
        SCHEDULES.target_env: {"Fn::GetAtt": [target_id, "Arn"]},
        SCHEDULES.dead_letter_env: {"Fn::GetAtt": [ids.dead_letter_queue, "Arn"]},
        "RetryAttempts": SCHEDULES.retry_attempts,
        "MaximumEventAgeSeconds": SCHEDULES.max_event_age_s,
        "Code": function["Code"]["S3Key"],  # every function's code asset: a new build, a new sync
    }


def test_make_deploys_id_runs_it_on_every_deploy(prod: Synthesized, dev: Synthesized) -> None:
    # dev is synthesized with -c deploy_id=... as make deploy passes it (conftest), prod without.
    assert sync_resource(dev)[1]["Properties"]["DeployId"] == DEV_DEPLOY_ID
    assert "DeployId" not in sync_resource(prod)[1]["Properties"]


def test_lambda_does_not_retry_it_and_knows_so_before_the_first_invocation(each_stage: Synthesized) -> None:
    function_id, _ = function_resource(each_stage, SYNC)
    ((config_id, config),) = [
        (logical_id, c)
        for logical_id, c in each_stage.of_type("AWS::Lambda::EventInvokeConfig").items()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    # A retry would answer CloudFormation a second time; a failure is the function's error
    # (alarmed) and its event lands in the function's dead-letter queue.
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    _, resource = sync_resource(each_stage)
    assert config_id in resource["DependsOn"]


def test_the_sync_gets_the_schedules_settings_as_the_api_does(prod: Synthesized) -> None:
    _, sync = function_resource(prod, SYNC)
    (api,) = [spec for spec in wiring.FUNCTIONS if spec.name == "Api"]
    _, api_function = function_resource(prod, api)
    names = (SCHEDULES.group_env, SCHEDULES.role_env, SCHEDULES.target_env, SCHEDULES.dead_letter_env)
    for name in names:
        assert sync["Environment"]["Variables"][name] == api_function["Environment"]["Variables"][name]


# The wiring is checked at synth time.


@pytest.mark.parametrize("count", [0, 2])
def test_exactly_one_schedule_sync_is_required(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    others = [spec for spec in wiring.FUNCTIONS if not spec.syncs_schedules]
    extra = [replace(SYNC, name=f"{SYNC.name}{i}") for i in range(count)]
    monkeypatch.setattr(wiring, "FUNCTIONS", tuple([*others, *extra]))
    with pytest.raises(
        ValueError, match=f"exactly one function syncing the program schedules.*found {count}"
    ):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")


def test_the_sync_must_manage_the_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        wiring,
        "FUNCTIONS",
        tuple(replace(s, manages_schedules=False) if s is SYNC else s for s in wiring.FUNCTIONS),
    )
    with pytest.raises(ValueError, match="must manage them"):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")
