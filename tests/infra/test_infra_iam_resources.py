"""Least privilege beyond the table: bucket actions by key prefix, queue actions on the wiring's
queues only, the one managed policy, and the program schedules' grants for the functions managing
them only."""

from __future__ import annotations

import pytest
from infra_testing import (
    Synthesized,
    as_list,
    bucket_id,
    function_resource,
    own_dead_letter_queues,
    queue_ids,
    refs,
    role_statements,
    schedule_ids,
    stream_on_failure,
)

from loyalty_engine import wiring

pytestmark = pytest.mark.infra


# Spelled out, as above: the S3 action each kind of wiring bucket grant stands for.
OBJECT_ACTIONS = {
    "read": ("s3:GetObject", "s3:GetObjectVersion"),
    "write": ("s3:PutObject",),
    "delete": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
}
# What Lambda's SQS poller needs (granted by the event source mapping), nothing more.
CONSUME_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}


def object_target(resource: object) -> tuple[str, str]:
    """(bucket logical id, key pattern) of `<bucket ARN>/<pattern>`, or (id, "") for the bucket ARN."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        assert resource["Fn::GetAtt"][1] == "Arn"
        return resource["Fn::GetAtt"][0], ""
    assert isinstance(resource, dict)
    arn, suffix = resource["Fn::Join"][1]
    assert resource["Fn::Join"][0] == ""
    assert arn["Fn::GetAtt"][1] == "Arn"
    assert suffix.startswith("/")
    return arn["Fn::GetAtt"][0], suffix.removeprefix("/")


def s3_grants(synthesized: Synthesized, spec: wiring.Function) -> set[tuple[str, str, str, str]]:
    """(action, bucket logical id, key pattern, s3:prefix condition) granted to the function's role."""
    grants = set()
    for statement in role_statements(synthesized, spec):
        actions = [a for a in as_list(statement["Action"]) if a.startswith("s3:")]
        if not actions:
            continue
        assert statement["Effect"] == "Allow"
        assert len(actions) == len(as_list(statement["Action"])), "S3 actions share no statement with others"
        condition = statement.get("Condition")
        for resource in as_list(statement["Resource"]):
            bucket, pattern = object_target(resource)
            for action in actions:
                if condition is None:
                    grants.add((action, bucket, pattern, ""))
                else:
                    assert set(condition) == {"StringLike"}
                    assert set(condition["StringLike"]) == {"s3:prefix"}
                    for prefix in as_list(condition["StringLike"]["s3:prefix"]):
                        grants.add((action, bucket, pattern, prefix))
    return grants


def test_wiring_has_bucket_grants_of_every_kind() -> None:
    # Otherwise the test below would check fewer kinds of grant than it claims.
    grants = [grant for spec in wiring.FUNCTIONS for grant in spec.buckets]
    for kind in (*OBJECT_ACTIONS, "list"):
        assert any(getattr(grant, kind) for grant in grants), kind


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_bucket_access_is_exactly_the_wirings_prefixes(prod: Synthesized, spec: wiring.Function) -> None:
    expected = set()
    for grant in spec.buckets:
        bucket = bucket_id(prod, grant.bucket)
        for kind, actions in OBJECT_ACTIONS.items():
            expected |= {(a, bucket, f"{prefix}*", "") for a in actions for prefix in getattr(grant, kind)}
        # Listing is on the bucket itself, conditioned on the listed prefixes.
        expected |= {
            (action, bucket, "", f"{prefix}*")
            for action in ("s3:ListBucket", "s3:ListBucketVersions")
            for prefix in grant.list
        }
    assert s3_grants(prod, spec) == expected


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_queue_access_is_sending_to_its_queues_and_consuming_its_trigger(
    prod: Synthesized, spec: wiring.Function
) -> None:
    _, function = function_resource(prod, spec)
    async_dlq = refs(function.get("DeadLetterConfig", {}))
    granted: dict[str, set[str]] = {}
    for statement in role_statements(prod, spec):
        for action in as_list(statement["Action"]):
            if action.startswith("sqs:"):
                for queue in refs(statement["Resource"]) - async_dlq:
                    granted.setdefault(queue, set()).add(action)
    expected: dict[str, set[str]] = {}
    for name in spec.sends_to:
        expected.setdefault(queue_ids(prod, name)[0], set()).add("sqs:SendMessage")
    if spec.queue_trigger:
        expected.setdefault(queue_ids(prod, spec.queue_trigger.queue)[0], set()).update(CONSUME_ACTIONS)
    for queue in own_dead_letter_queues(prod, spec):  # a worker giving messages up itself: send only
        expected.setdefault(queue, set()).add("sqs:SendMessage")
    for queue in stream_on_failure(prod, spec):  # the stream's on-failure destination: send only
        expected.setdefault(queue, set()).update(
            {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
        )
    assert granted == expected


def test_only_the_opt_in_api_gateway_logging_role_uses_a_managed_policy(
    prod: Synthesized, dev: Synthesized
) -> None:
    # prod is synthesized as deployed by default, dev with -c api_gateway_cloudwatch_role=true (conftest).
    assert [
        r for r in prod.of_type("AWS::IAM::Role").values() if "ManagedPolicyArns" in r["Properties"]
    ] == []
    assert prod.of_type("AWS::ApiGateway::Account") == {}
    # (dev's other role with a managed policy is CDK's provider that empties its buckets on deletion.)
    with_managed = {
        logical_id: role
        for logical_id, role in dev.of_type("AWS::IAM::Role").items()
        if "AmazonAPIGatewayPushToCloudWatchLogs" in str(role["Properties"].get("ManagedPolicyArns"))
    }
    assert len(with_managed) == 1
    ((role_id, role),) = with_managed.items()
    assert role["DeletionPolicy"] == "Retain"  # every other API of the account and region uses it too
    (account,) = dev.of_type("AWS::ApiGateway::Account").values()
    assert refs(account["Properties"]["CloudWatchRoleArn"]) == {role_id}


# Spelled out, as above: what a function managing the program schedules may do.
SCHEDULE_ACTIONS = {
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:GetSchedule",
    "scheduler:DeleteSchedule",
}
# Every kind of grant the wiring can give a function; scheduler/iam for the schedule managers only.
GRANTED_SERVICES = {"dynamodb", "s3", "sqs", "logs", "xray"}
SCHEDULE_MANAGER_SERVICES = {"scheduler", "iam"}


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_function_role_has_only_the_kinds_of_grant_the_wiring_gives(
    prod: Synthesized, spec: wiring.Function
) -> None:
    services = {action.split(":")[0] for s in role_statements(prod, spec) for action in as_list(s["Action"])}
    allowed = GRANTED_SERVICES | (SCHEDULE_MANAGER_SERVICES if spec.manages_schedules else set())
    allowed |= {"events"} if spec.stream_trigger is not None else set()  # PutEvents on its bus only
    assert services <= allowed, spec.name
    # No function may invoke another (the schedule target is invoked by Scheduler's role).
    assert "lambda" not in services


def test_wiring_has_schedule_managers_and_others() -> None:
    assert any(spec.manages_schedules for spec in wiring.FUNCTIONS)
    assert any(not spec.manages_schedules for spec in wiring.FUNCTIONS)


def schedules_arn_group(resource: dict) -> str:
    """The group logical id of `arn:<partition>:scheduler:<region>:<account>:schedule/<group>/*`."""
    assert set(resource) == {"Fn::Join"}
    separator, parts = resource["Fn::Join"]
    assert separator == ""
    assert parts == [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":scheduler:",
        {"Ref": "AWS::Region"},
        ":",
        {"Ref": "AWS::AccountId"},
        ":schedule/",
        parts[7],
        "/*",
    ]
    return str(parts[7]["Ref"])


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_schedule_managers_manage_the_groups_schedules_and_pass_schedulers_role_only(
    prod: Synthesized, spec: wiring.Function
) -> None:
    ids = schedule_ids(prod)
    scheduler_statements = [
        s
        for s in role_statements(prod, spec)
        if any(a.startswith(("scheduler:", "iam:")) for a in as_list(s["Action"]))
    ]
    if not spec.manages_schedules:
        assert scheduler_statements == []
        return
    (pass_role,) = [s for s in scheduler_statements if "iam:PassRole" in as_list(s["Action"])]
    # (The sync's ListSchedules is on "*", with the X-Ray actions: see the test above.)
    (manage,) = [s for s in scheduler_statements if s is not pass_role and s["Resource"] != "*"]
    assert manage["Effect"] == "Allow"
    assert set(as_list(manage["Action"])) == SCHEDULE_ACTIONS
    assert "Condition" not in manage
    (resource,) = as_list(manage["Resource"])
    assert schedules_arn_group(resource) == ids.group
    assert pass_role == {
        "Action": "iam:PassRole",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [ids.role, "Arn"]},
        "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
    }
