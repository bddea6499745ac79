"""Webhooks in the template: the domain bus's rule feeding the dispatcher's queue (and only it
may send there), the workers' queue triggers with their concurrency caps, and the delivery
worker's grant on its own dead-letter queue."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from infra_testing import Synthesized, function_resource, queue_ids

from loyalty_engine.events.models import SOURCE
from loyalty_engine.wiring import WEBHOOK_DELIVERY, WEBHOOK_DISPATCHER, WEBHOOK_EVENT_QUEUE, WEBHOOK_QUEUE

pytestmark = pytest.mark.infra


def test_a_rule_on_the_domain_bus_sends_every_event_to_the_dispatchers_queue(prod: Synthesized) -> None:
    (bus_id,) = prod.of_type("AWS::Events::EventBus")
    queue_id, dlq_id = queue_ids(prod, WEBHOOK_EVENT_QUEUE.name)
    rules = prod.of_type("AWS::Events::Rule")
    webhook_rules = [
        rule["Properties"]
        for rule in rules.values()
        if any(t["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]} for t in rule["Properties"].get("Targets", []))
    ]
    assert len(webhook_rules) == 1
    (rule,) = webhook_rules
    assert rule["EventBusName"] == {"Ref": bus_id}
    assert rule["EventPattern"] == {"source": [SOURCE]}
    (target,) = rule["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600


def test_only_that_rule_may_send_to_the_dispatchers_queue(prod: Synthesized) -> None:
    queue_id, _ = queue_ids(prod, WEBHOOK_EVENT_QUEUE.name)
    policies = [
        p["Properties"]
        for p in prod.of_type("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    assert policies
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    sends = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert len(sends) == 1
    assert "aws:SourceArn" in sends[0]["Condition"]["ArnEquals"]
    assert sends[0]["Effect"] == "Allow"


@pytest.mark.parametrize("spec", [WEBHOOK_DISPATCHER, WEBHOOK_DELIVERY], ids=lambda s: s.name)
def test_the_workers_consume_their_queue_with_partial_failures_and_a_concurrency_cap(
    prod: Synthesized, spec
) -> None:
    function_id, _ = function_resource(prod, spec)
    trigger = spec.queue_trigger
    assert trigger is not None and trigger.max_concurrency is not None
    queue_id, _ = queue_ids(prod, trigger.queue)
    prod.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id},
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "BatchSize": trigger.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": trigger.max_concurrency},
        },
    )
    # a batch of deliveries (10 s each at most) ends before the function's timeout
    if spec is WEBHOOK_DELIVERY:
        assert trigger.batch_size * 10 < spec.timeout_s


def test_the_delivery_worker_gives_up_to_its_queues_dead_letter_queue_and_the_api_may_not(
    prod: Synthesized,
) -> None:
    _, dlq_id = queue_ids(prod, WEBHOOK_QUEUE.name)
    _, delivery = function_resource(prod, WEBHOOK_DELIVERY)
    assert delivery["Environment"]["Variables"][WEBHOOK_QUEUE.dead_letter_env] == {"Ref": dlq_id}
    prod.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": delivery["Role"]["Fn::GetAtt"][0]}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": [dlq_id, "Arn"]}}
                        )
                    ]
                )
            },
        },
    )
    from loyalty_engine.wiring import API

    _, api = function_resource(prod, API)
    assert WEBHOOK_QUEUE.dead_letter_env not in api["Environment"]["Variables"]
    assert api["Environment"]["Variables"][WEBHOOK_QUEUE.env] == {
        "Ref": queue_ids(prod, WEBHOOK_QUEUE.name)[0]
    }


SSRF_GUARD_SWITCHES = ("WEBHOOKS_ALLOW_HTTP", "WEBHOOKS_ALLOW_PRIVATE")


def test_no_deployed_function_turns_off_the_https_or_private_address_guards(each_stage: Synthesized) -> None:
    """Those switches are the local stack's only (plain HTTP to a receiver on 127.0.0.1); in a
    deployed stage the defaults (refuse) must hold, whatever function reads the settings."""
    functions = each_stage.of_type("AWS::Lambda::Function")
    delivery_id, _ = function_resource(each_stage, WEBHOOK_DELIVERY)
    assert delivery_id in functions
    assert functions[delivery_id]["Properties"]["Environment"]["Variables"], "the delivery has its variables"
    for function_id, function in functions.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert not set(SSRF_GUARD_SWITCHES) & set(variables), function_id
