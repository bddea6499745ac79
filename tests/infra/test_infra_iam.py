"""Least privilege: per-function roles with item-level table actions, the authorizer's reads, no
wildcard, logs and queues. Buckets, queues and schedules: test_infra_iam_resources.py."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from infra_testing import (
    Synthesized,
    as_list,
    function_resource,
    own_dead_letter_queues,
    queue_ids,
    refs,
    role_statements,
    statements,
    stream_on_failure,
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


def test_the_authorizer_may_only_get_keys_and_mark_their_use(prod: Synthesized) -> None:
    """GetItem (no Query, Scan or BatchGetItem), and UpdateItem of a key's last-use marks alone,
    returning nothing, and only where API keys are: a group's own partition `G#<group>`, not a
    member's, a ledger's or any other (`G#<group>#...`)."""
    assert AUTHORIZER.table_access == "use_keys"
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
        },
        {
            "Action": "dynamodb:UpdateItem",
            "Condition": {
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["G#*"]},
                "ForAllValues:StringNotLike": {"dynamodb:LeadingKeys": ["G#*#*"]},
                "ForAllValues:StringEquals": {
                    "dynamodb:Attributes": ["pk", "sk", "last_used_at", "previous_secret_last_used_at"]
                },
                "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE"]},
            },
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
        },
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
