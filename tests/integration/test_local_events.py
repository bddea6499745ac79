"""The local stack's domain events: the table has its stream, a loop feeds it to the real
publisher, and the events reach `loyalty-engine-local` (captured by a rule -> SQS)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from local_stack.stack import LocalStack
from loyalty_engine.events.models import SOURCE, bus_name

TIMEOUT = 30


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack.start() as running:
        yield running


def test_an_enrolment_on_the_local_stack_reaches_the_local_bus(stack: LocalStack) -> None:
    events, sqs = stack.client("events"), stack.client("sqs")
    bus = bus_name("local")
    assert stack.resources.event_bus_name == bus
    url = sqs.create_queue(QueueName="local-consumer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [SOURCE], "detail-type": ["member.enrolled"]}
    events.put_rule(Name="enrolments", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="enrolments", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    headers = {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}
    program = {
        "name": "Local events",
        "currency": "EUR",
        "starts_at": "2025-01-01T00:00:00+01:00",
        "nq_points": {"conversion_rate": "10", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
    }
    reply = requests.put(
        f"{stack.api_url}/v1/programs/local-ev", json=program, headers=headers, timeout=TIMEOUT
    )
    assert reply.status_code == 201, reply.text
    reply = requests.post(
        f"{stack.api_url}/v1/programs/local-ev/members",
        json={"card_code": "LOCAL-EV-1"},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert reply.status_code == 201, reply.text
    stack.wait_for_events()
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    (envelope,) = [json.loads(m["Body"]) for m in messages]
    assert envelope["detail-type"] == "member.enrolled" and envelope["source"] == SOURCE
    assert envelope["detail"]["card_code"] == "LOCAL-EV-1" and envelope["detail"]["group"] == "demo"
    assert stack.stream("EventsPublisher").given_up == []


def test_an_earn_on_the_local_stack_reaches_the_local_bus_with_its_packed_lots_in_the_stream(
    stack: LocalStack,
) -> None:
    """An earn writes the member's lots as a binary (packed) attribute: the stream hands it to
    the publisher as Lambda does (base64 text), and the earn's event is published."""
    events, sqs = stack.client("events"), stack.client("sqs")
    bus = bus_name("local")
    url = sqs.create_queue(QueueName="local-earns")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [SOURCE], "detail-type": ["points.earned"]}
    events.put_rule(Name="earns", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="earns", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    headers = {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}
    card = "LOCAL-EV-2"
    program = {
        "name": "Local earns",
        "currency": "EUR",
        "starts_at": "2025-01-01T00:00:00+01:00",
        "nq_points": {"conversion_rate": "10", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
    }
    reply = requests.put(
        f"{stack.api_url}/v1/programs/local-earn", json=program, headers=headers, timeout=TIMEOUT
    )
    assert reply.status_code == 201, reply.text
    reply = requests.post(
        f"{stack.api_url}/v1/programs/local-earn/members",
        json={"card_code": card},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert reply.status_code == 201, reply.text
    order = {
        "order_id": "LOCAL-O-1",
        "amount": "42.00",
        "currency": "EUR",
        "ordered_at": "2026-11-20T15:04:05+01:00",
    }
    reply = requests.post(
        f"{stack.api_url}/v1/members/{card}/orders", json=order, headers=headers, timeout=TIMEOUT
    )
    assert reply.status_code == 201, reply.text
    stack.wait_for_events()
    assert stack.stream("EventsPublisher").given_up == []
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    (envelope,) = [json.loads(m["Body"]) for m in messages]
    assert envelope["detail"]["card_code"] == card and envelope["detail"]["reference"] == "LOCAL-O-1"
