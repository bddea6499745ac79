"""Calls on a running local stack (`local_stack.stack.LocalStack`) through its gateway, as a
web shop or an operator would make them, and a queue that receives the local bus's events."""

from __future__ import annotations

import json
from typing import Any

import requests

from local_stack.stack import LocalStack
from loyalty_engine.events.models import SOURCE, bus_name

TIMEOUT = 30


def admin_headers(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}


def program_with_member(stack: LocalStack, program_id: str, card_code: str) -> None:
    """A program whose NQ points (10 per euro) are valid a year, and a member enrolled in it."""
    program: dict[str, Any] = {
        "name": f"Local {program_id}",
        "currency": "EUR",
        "starts_at": "2025-01-01T00:00:00+01:00",
        "nq_points": {"conversion_rate": "10", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
    }
    base, headers = stack.api_url, admin_headers(stack)
    reply = requests.put(f"{base}/v1/programs/{program_id}", json=program, headers=headers, timeout=TIMEOUT)
    assert reply.status_code == 201, reply.text
    reply = requests.post(
        f"{base}/v1/programs/{program_id}/members",
        json={"card_code": card_code},
        headers=headers,
        timeout=TIMEOUT,
    )
    assert reply.status_code == 201, reply.text


def earn(stack: LocalStack, card_code: str, order_id: str, amount: str, ordered_at: str) -> None:
    order = {"order_id": order_id, "amount": amount, "currency": "EUR", "ordered_at": ordered_at}
    reply = requests.post(
        f"{stack.api_url}/v1/members/{card_code}/orders",
        json=order,
        headers=admin_headers(stack),
        timeout=TIMEOUT,
    )
    assert reply.status_code == 201, reply.text


def bus_queue(stack: LocalStack, name: str, kind: str) -> str:
    """The URL of a new SQS queue that a rule of the local bus feeds with the events of `kind`."""
    events, sqs = stack.client("events"), stack.client("sqs")
    bus = bus_name("local")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [SOURCE], "detail-type": [kind]}
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def received(stack: LocalStack, url: str) -> list[dict[str, Any]]:
    """The event envelopes waiting in the queue at `url`."""
    messages = stack.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]
