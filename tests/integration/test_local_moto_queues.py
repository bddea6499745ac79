"""The local stack's moto checks a received message's retention period without computing the
queue's attributes (`local_stack/moto_queues.py`): a receive from a queue with messages waiting
no longer scans them all per message it hands out, and the retention rule is moto's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import Queue, sqs_backends

from local_stack.moto_queues import retention_without_queue_scan

REGION = "eu-west-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    retention_without_queue_scan()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queue(name: str) -> Any:
    return sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues[name]


def test_a_receive_from_a_long_queue_does_not_compute_its_attributes(sqs, monkeypatch):
    url = sqs.create_queue(QueueName="long")["QueueUrl"]
    for start in range(0, 200, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{start + n}"} for n in range(10)]
        )
    computed = []
    attributes = Queue.attributes
    monkeypatch.setattr(
        Queue, "attributes", property(lambda queue: computed.append(1) or attributes.fget(queue))
    )
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 10
    assert computed == []


def test_a_message_older_than_its_queues_retention_period_is_not_received(sqs):
    url = sqs.create_queue(QueueName="kept-a-minute", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="stale")
    (stale,) = _queue("kept-a-minute").messages
    stale.sent_timestamp -= 61_000  # milliseconds
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    fresh_url = sqs.create_queue(QueueName="fresh", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=fresh_url, MessageBody="fresh")
    (fresh,) = _queue("fresh").messages
    fresh.sent_timestamp -= 59_000
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=fresh_url)["Messages"]] == ["fresh"]
