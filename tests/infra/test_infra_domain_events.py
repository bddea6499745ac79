"""The domain events in the template: the table's stream, the stage's bus, the publisher's event
source mapping (partial batch failures, bisect, bounded retries and age, on-failure queue) and
its least-privilege role."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_testing import Synthesized, function_resource

from loyalty_engine.events.models import BUS_ENV
from loyalty_engine.kernel import table as table_shape
from loyalty_engine.wiring import EVENTS_PUBLISHER

pytestmark = pytest.mark.infra


def _policy_statements(synthesized: Synthesized, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_table_streams_new_and_old_images(prod: Synthesized) -> None:
    prod.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"StreamSpecification": {"StreamViewType": table_shape.STREAM_VIEW_TYPE}},
    )


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_the_stage_has_its_bus(stage: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(stage)
    buses = synthesized.of_type("AWS::Events::EventBus")
    assert [bus["Properties"]["Name"] for bus in buses.values()] == [f"loyalty-engine-{synthesized.stage}"]
    (bus_id,) = buses
    assert bus_id.startswith("DomainEventsDomainEventBus")
    _, publisher = function_resource(synthesized, EVENTS_PUBLISHER)
    assert publisher["Environment"]["Variables"][BUS_ENV] == {"Ref": bus_id}


def test_the_publisher_reads_the_stream_with_partial_failures_bisect_and_an_on_failure_queue(
    prod: Synthesized,
) -> None:
    trigger = EVENTS_PUBLISHER.stream_trigger
    assert trigger is not None
    publisher_id, _ = function_resource(prod, EVENTS_PUBLISHER)
    on_failure = prod.logical_id(prod.stack.domain_events.on_failure)
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    prod.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": publisher_id},
            "EventSourceArn": {"Fn::GetAtt": [table_id, "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": trigger.batch_size,
            "MaximumBatchingWindowInSeconds": trigger.max_batching_window_s,
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": trigger.retry_attempts,
            "MaximumRecordAgeInSeconds": trigger.max_record_age_s,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [on_failure, "Arn"]}}},
        },
    )
    queue = prod.resources[on_failure]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True


def test_the_publisher_may_put_events_on_its_bus_only_and_read_the_stream_only(prod: Synthesized) -> None:
    _, publisher = function_resource(prod, EVENTS_PUBLISHER)
    role_id = publisher["Role"]["Fn::GetAtt"][0]
    statements = _policy_statements(prod, role_id)
    actions = {
        action: statement["Resource"]
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    (bus_id,) = prod.of_type("AWS::Events::EventBus")
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    assert actions["events:PutEvents"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    for action in (
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
    ):
        assert actions[action] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    # no table item action, nothing on "*" but X-Ray's tracing
    assert not {
        a
        for a in actions
        if a.startswith("dynamodb:")
        and "Stream" not in a
        and a not in ("dynamodb:GetRecords", "dynamodb:GetShardIterator")
    }
    assert {a for a, resource in actions.items() if resource == "*"} <= {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert "sqs:SendMessage" in actions
    prod.template.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": EVENTS_PUBLISHER.handler, "DeadLetterConfig": Match.absent()}
    )


def test_an_alarm_watches_the_on_failure_queue(prod: Synthesized) -> None:
    on_failure = prod.logical_id(prod.stack.domain_events.on_failure)
    alarms = [
        alarm["Properties"]
        for alarm in prod.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [on_failure, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]
    assert alarms
