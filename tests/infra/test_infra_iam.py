"""Least privilege: per-function roles with item-level table actions, bucket actions by key prefix,
queue actions on the wiring's queues only, and the program schedules' grants for the functions
managing them only."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
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
    statements,
)

from loyalty_engine import wiring

pytestmark = pytest.mark.infra

# Spelled out here, not imported from infra, so that widening a grant there fails a test.
READ_ACTIONS = {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"}
WRITE_ACTIONS = {
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
}
ITEM_WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}


def dynamodb_grants(synthesized: Synthesized, spec: wiring.Function) -> dict[str, set[str]]:
    """action -> resources ("table" or "index/<name>") granted to the function's role."""
    (table_id,) = synthesized.of_type("AWS::DynamoDB::Table")
    grants: dict[str, set[str]] = {}
    for statement in role_statements(synthesized, spec):
        actions = [a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")]
        if not actions:
            continue
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            assert refs(resource) == {table_id}, resource
            if resource == {"Fn::GetAtt": [table_id, "Arn"]}:
                target = "table"
            else:
                suffix = resource["Fn::Join"][1][-1]
                assert suffix.startswith("/index/")
                target = suffix.removeprefix("/")
            for action in actions:
                grants.setdefault(action, set()).add(target)
    return grants


READ_ONLY = [spec for spec in wiring.FUNCTIONS if spec.table_access == "read"]
READ_WRITE = [spec for spec in wiring.FUNCTIONS if spec.table_access == "read_write"]


def test_wiring_has_both_kinds_of_function() -> None:
    # Otherwise the two tests below would silently test nothing.
    assert READ_ONLY
    assert READ_WRITE


@pytest.mark.parametrize("spec", READ_ONLY, ids=lambda spec: spec.name)
def test_read_only_function_can_only_read_items_and_query_its_indexes(
    prod: Synthesized, spec: wiring.Function
) -> None:
    grants = dynamodb_grants(prod, spec)
    expected = {action: {"table"} for action in READ_ACTIONS}
    expected["dynamodb:Query"] = {"table", *(f"index/{name}" for name in spec.indexes)}
    assert grants == expected
    assert not set(grants) & ITEM_WRITE_ACTIONS


@pytest.mark.parametrize("spec", READ_WRITE, ids=lambda spec: spec.name)
def test_read_write_function_reads_writes_and_queries_only_its_indexes(
    prod: Synthesized, spec: wiring.Function
) -> None:
    grants = dynamodb_grants(prod, spec)
    expected = {action: {"table"} for action in (*READ_ACTIONS, *WRITE_ACTIONS)}
    expected["dynamodb:Query"] = {"table", *(f"index/{name}" for name in spec.indexes)}
    assert grants == expected


(AUTHORIZER,) = [spec for spec in wiring.FUNCTIONS if spec.is_authorizer]


def test_the_authorizer_may_only_get_items_of_group_partitions(prod: Synthesized) -> None:
    """GetItem only (no Query, Scan or BatchGetItem), and only where API keys are: a group's own
    partition `G#<group>`, not a member's, a ledger's or any other (`G#<group>#...`)."""
    assert AUTHORIZER.table_access == "read_keys"
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    table_statements = [
        s
        for s in role_statements(prod, AUTHORIZER)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    assert table_statements == [
        {
            "Action": "dynamodb:GetItem",
            "Condition": {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["G#*"]},
                "ForAllValues:StringNotLike": {"dynamodb:LeadingKeys": ["G#*#*"]},
            },
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        }
    ]
    # the same through CDK's assertions, on the synthesized template
    prod.template.has_resource_properties(
        "AWS::IAM::Policy",
        Match.object_like(
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Action": "dynamodb:GetItem",
                                    "Condition": {
                                        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["G#*"]},
                                        "ForAllValues:StringNotLike": {"dynamodb:LeadingKeys": ["G#*#*"]},
                                    },
                                }
                            )
                        ]
                    )
                }
            }
        ),
    )


def test_the_authorizer_cache_ttl_and_identity_source_come_from_the_wiring(prod: Synthesized) -> None:
    prod.template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "AuthorizerResultTtlInSeconds": wiring.AUTHORIZER_CACHE_TTL_S,
            "IdentitySource": f"method.request.header.{wiring.AUTHORIZATION_HEADER}",
            "Type": "REQUEST",
        },
    )


def test_no_wildcard_or_scan_actions_anywhere(prod: Synthesized) -> None:
    for logical_id, policy in prod.of_type("AWS::IAM::Policy").items():
        for statement in statements(policy):
            for action in as_list(statement["Action"]):
                assert "*" not in action, (logical_id, action)
                assert action not in {"dynamodb:Scan", "dynamodb:PartiQLSelect"}, (logical_id, action)


def test_only_xray_and_the_syncs_listing_of_schedules_are_granted_on_every_resource(
    prod: Synthesized,
) -> None:
    # Neither supports resource-level permissions.
    (sync,) = [spec for spec in wiring.FUNCTIONS if spec.syncs_schedules]
    sync_statements = role_statements(prod, sync)
    for policy in prod.of_type("AWS::IAM::Policy").values():
        for statement in statements(policy):
            if "*" in as_list(statement["Resource"]):
                expected = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
                if statement in sync_statements:
                    expected.add("scheduler:ListSchedules")
                assert set(as_list(statement["Action"])) == expected
    assert any("scheduler:ListSchedules" in as_list(s["Action"]) for s in sync_statements)


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda spec: spec.name)
def test_function_writes_only_its_own_log_group_and_queues(prod: Synthesized, spec: wiring.Function) -> None:
    _, function = function_resource(prod, spec)
    own = {
        function["LoggingConfig"]["LogGroup"]["Ref"],
        *refs(function.get("DeadLetterConfig", {})),
        *(queue_ids(prod, name)[0] for name in spec.sends_to),
        *([queue_ids(prod, spec.queue_trigger.queue)[0]] if spec.queue_trigger else []),
        *(stream_on_failure(prod, spec)),
        *own_dead_letter_queues(prod, spec),
    }
    for statement in role_statements(prod, spec):
        if any(a.startswith(("logs:", "sqs:")) for a in as_list(statement["Action"])):
            assert refs(statement["Resource"]) <= own


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


def stream_on_failure(prod: Synthesized, spec: wiring.Function) -> list[str]:
    """The on-failure queue of a stream-triggered function's event source mapping."""
    if spec.stream_trigger is None:
        return []
    return [prod.logical_id(prod.stack.domain_events.on_failure)]


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
