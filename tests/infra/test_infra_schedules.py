"""The program schedules: a schedule group per stage, the role Scheduler invokes the schedule target
with (and nothing else), its dead-letter queue, the managers' environment, and the scheduled jobs'
queue chain, all from `loyalty_engine.wiring`."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match
from infra_testing import (
    TEST_CONTEXT,
    Synthesized,
    function_resource,
    queue_ids,
    refs,
    schedule_ids,
    synthesize,
)

from infra.app import build_app
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

SCHEDULES = wiring.PROGRAM_SCHEDULES
(TARGET,) = [spec for spec in wiring.FUNCTIONS if spec.schedule_target]
MANAGERS = [spec for spec in wiring.FUNCTIONS if spec.manages_schedules]
SSL_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def test_wiring_has_schedule_managers() -> None:
    # Otherwise the parametrized tests below would silently test nothing.
    assert MANAGERS
    assert TARGET not in MANAGERS


def test_one_schedule_group_per_stage(prod: Synthesized, dev: Synthesized) -> None:
    names = {}
    for synthesized in (prod, dev):
        (group_id, group), *others = synthesized.of_type("AWS::Scheduler::ScheduleGroup").items()
        assert others == []
        assert group_id == schedule_ids(synthesized).group
        names[synthesized.stage] = group["Properties"]["Name"]
        # Deleted with the stack (with its schedules) in every stage: they only invoke this stack's target.
        assert group["DeletionPolicy"] == "Delete"
    assert names == {
        "prod": f"LoyaltyEngine-prod-{SCHEDULES.name}",
        "dev": f"LoyaltyEngine-dev-{SCHEDULES.name}",
    }


def test_schedules_are_made_at_run_time_not_in_the_template(prod: Synthesized) -> None:
    assert prod.of_type("AWS::Scheduler::Schedule") == {}


def role_policy_statements(synthesized: Synthesized, role_id: str) -> list[dict]:
    statements: list[dict] = []
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if role_id in refs(policy["Properties"]["Roles"]):
            document = policy["Properties"]["PolicyDocument"]["Statement"]
            statements += document if isinstance(document, list) else [document]
    return statements


def test_scheduler_role_is_assumed_by_scheduler_for_this_accounts_group_only(each_stage: Synthesized) -> None:
    ids = schedule_ids(each_stage)
    role = each_stage.resources[ids.role]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": {"Ref": "AWS::AccountId"},
                    "aws:SourceArn": {"Fn::GetAtt": [ids.group, "Arn"]},
                }
            },
        }
    ]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role


def test_scheduler_role_may_invoke_the_target_and_dead_letter_only(each_stage: Synthesized) -> None:
    ids = schedule_ids(each_stage)
    target_id, _ = function_resource(each_stage, TARGET)
    statements = role_policy_statements(each_stage, ids.role)
    assert sorted(statements, key=str) == sorted(
        [
            {
                "Action": "lambda:InvokeFunction",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [target_id, "Arn"]},  # the unqualified ARN the schedules name
            },
            {
                "Action": "sqs:SendMessage",
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [ids.dead_letter_queue, "Arn"]},
            },
        ],
        key=str,
    )


def test_no_other_role_may_invoke_the_target(prod: Synthesized) -> None:
    ids = schedule_ids(prod)
    for policy in prod.of_type("AWS::IAM::Policy").values():
        if ids.role in refs(policy["Properties"]["Roles"]):
            continue
        document = policy["Properties"]["PolicyDocument"]["Statement"]
        for statement in document if isinstance(document, list) else [document]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a.startswith("lambda:") for a in actions), statement


def test_schedules_dead_letter_queue_is_encrypted_ssl_only_and_kept_like_the_others(
    each_stage: Synthesized,
) -> None:
    queue_id = schedule_ids(each_stage).dead_letter_queue
    queue = each_stage.resources[queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["DeletionPolicy"] == {"prod": "Retain", "dev": "Delete"}[each_stage.stage]
    (policy,) = [
        p["Properties"]
        for p in each_stage.of_type("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == SSL_ONLY
        for s in policy["PolicyDocument"]["Statement"]
    )


@pytest.mark.parametrize("spec", MANAGERS, ids=lambda spec: spec.name)
def test_schedule_manager_environment_names_the_group_role_target_and_dead_letter_queue(
    prod: Synthesized, spec: wiring.Function
) -> None:
    ids = schedule_ids(prod)
    target_id, _ = function_resource(prod, TARGET)
    prod.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": spec.handler,
            "Environment": {
                "Variables": Match.object_like(
                    {
                        SCHEDULES.group_env: {"Ref": ids.group},  # Ref of a schedule group is its name
                        SCHEDULES.role_env: {"Fn::GetAtt": [ids.role, "Arn"]},
                        SCHEDULES.target_env: {"Fn::GetAtt": [target_id, "Arn"]},
                        SCHEDULES.dead_letter_env: {"Fn::GetAtt": [ids.dead_letter_queue, "Arn"]},
                    }
                )
            },
        },
    )


@pytest.mark.parametrize(
    "spec", [s for s in wiring.FUNCTIONS if not s.manages_schedules], ids=lambda s: s.name
)
def test_other_functions_get_no_schedule_settings(prod: Synthesized, spec: wiring.Function) -> None:
    _, function = function_resource(prod, spec)
    variables = function["Environment"]["Variables"]
    names = {SCHEDULES.group_env, SCHEDULES.role_env, SCHEDULES.target_env, SCHEDULES.dead_letter_env}
    assert not names & set(variables)


def test_target_keeps_failed_asynchronous_invocations(prod: Synthesized) -> None:
    # Scheduler invokes it asynchronously: what fails Lambda's own retries goes to its dead-letter queue.
    _, function = function_resource(prod, TARGET)
    assert TARGET.queue_trigger is None
    (dead_letter_queue_id,) = refs(function["DeadLetterConfig"])
    assert dead_letter_queue_id != schedule_ids(prod).dead_letter_queue


def test_scheduled_jobs_queue_chain(prod: Synthesized) -> None:
    # The target queues one message per shard; each queue it sends to has one consumer, which
    # takes one message at a time and reports failed messages, not its whole batch.
    assert TARGET.sends_to
    consumers = {spec.queue_trigger.queue: spec for spec in wiring.FUNCTIONS if spec.queue_trigger}
    for queue_name in TARGET.sends_to:
        worker = consumers[queue_name]
        assert worker.queue_trigger is not None
        assert worker.queue_trigger.batch_size == 1
        worker_id, _ = function_resource(prod, worker)
        queue_id, dead_letter_queue_id = queue_ids(prod, queue_name)
        (mapping,) = [
            m["Properties"]
            for m in prod.of_type("AWS::Lambda::EventSourceMapping").values()
            if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        ]
        assert mapping["FunctionName"] == {"Ref": worker_id}
        assert mapping["BatchSize"] == 1
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # The queue has no S3 source, and still its own dead-letter queue.
        properties = prod.resources[queue_id]["Properties"]
        assert properties["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [dead_letter_queue_id, "Arn"]
        }


# The wiring is checked at synth time.


def functions_with(monkeypatch: pytest.MonkeyPatch, *functions: wiring.Function) -> None:
    monkeypatch.setattr(wiring, "FUNCTIONS", tuple(functions))


@pytest.mark.parametrize("targets", [0, 2])
def test_exactly_one_schedule_target_is_required(monkeypatch: pytest.MonkeyPatch, targets: int) -> None:
    others = [spec for spec in wiring.FUNCTIONS if not spec.schedule_target]
    extra = [replace(TARGET, name=f"{TARGET.name}{i}") for i in range(targets)]
    functions_with(monkeypatch, *others, *extra)
    with pytest.raises(ValueError, match=f"exactly one schedule target .*found {targets}"):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")


def test_the_schedule_target_cannot_manage_the_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    functions_with(
        monkeypatch,
        *(replace(s, manages_schedules=True) if s is TARGET else s for s in wiring.FUNCTIONS),
    )
    with pytest.raises(ValueError, match="cannot manage the schedules"):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        (replace(SCHEDULES, retry_attempts=186), "retry_attempts"),
        (replace(SCHEDULES, max_event_age_s=30), "max_event_age_s"),
    ],
)
def test_a_retry_policy_scheduler_would_refuse_is_refused(
    monkeypatch: pytest.MonkeyPatch, schedules: wiring.ProgramSchedules, message: str
) -> None:
    monkeypatch.setattr(wiring, "PROGRAM_SCHEDULES", schedules)
    with pytest.raises(ValueError, match=message):
        build_app(App(post_cli_context=TEST_CONTEXT), "prod")


def test_every_schedule_manager_in_the_wiring_gets_the_grants_and_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = wiring.Function(
        name="Reports",
        handler="loyalty_engine.handlers.reports.handler",
        description="Program reports",
        table_access="read",
        manages_schedules=True,
        reserved_concurrency=1,  # a worker needs a concurrency cap
    )
    functions_with(monkeypatch, *wiring.FUNCTIONS, reports)

    synthesized = synthesize(tmp_path_factory.mktemp("cdk-second-manager"), "prod")

    ids = schedule_ids(synthesized)
    _, function = function_resource(synthesized, reports)
    assert function["Environment"]["Variables"][SCHEDULES.role_env] == {"Fn::GetAtt": [ids.role, "Arn"]}
    role_id = function["Role"]["Fn::GetAtt"][0]
    actions = {
        action
        for statement in role_policy_statements(synthesized, role_id)
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert {"scheduler:CreateSchedule", "iam:PassRole"} <= actions
    assert synthesized.findings() == []  # its schedule-group grant is acknowledged like the API's
