"""Domain events on moto: the table's stream delivered to the real publisher handler (as the
local stack and an event source mapping deliver it), and a capture of what reached the bus
(a rule on the bus targeting an SQS queue, as a consumer would subscribe)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import jsonschema

from local_stack.runtime import FunctionRuntime, reset_handler_caches
from local_stack.streams import StreamDelivery
from loyalty_engine.events.models import BUS_ENV, MODELS_BY_KIND, SOURCE, bus_name
from loyalty_engine.kernel import settings
from loyalty_engine.kernel.table import stream_specification
from loyalty_engine.wiring import EVENTS_PUBLISHER

BUS_NAME = bus_name("test")
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


@cache
def schema_validator(kind: str) -> jsonschema.Draft202012Validator:
    """The committed JSON Schema of a kind's `detail` (docs/events/<kind>.json), as consumers read it."""
    schema = json.loads((SCHEMAS / f"{kind}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def check_against_schema(detail: dict[str, Any]) -> None:
    errors = sorted(schema_validator(detail["kind"]).iter_errors(detail), key=lambda e: list(e.path))
    assert not errors, f"{detail['kind']} does not match docs/events/{detail['kind']}.json: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(detail)'}: {e.message}" for e in errors
    )


def streams_client() -> Any:
    region = os.environ["AWS_DEFAULT_REGION"]
    # botocore's default endpoint for streams is account-based, which moto does not route
    return boto3.client("dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{region}.amazonaws.com")


class EventCapture:
    """Needs moto running and the table created (the `table` fixture)."""

    def __init__(self, table_name: str, handler: Any = None):
        os.environ[BUS_ENV] = BUS_NAME
        settings.forget()
        reset_handler_caches()
        events = boto3.client("events")
        events.create_event_bus(Name=BUS_NAME)
        sqs = boto3.client("sqs")
        self._sqs = sqs
        self.queue_url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="all", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(Rule="all", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": queue_arn}])
        dynamodb = boto3.client("dynamodb")
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        if "LatestStreamArn" not in table:
            table = dynamodb.update_table(TableName=table_name, StreamSpecification=stream_specification())[
                "TableDescription"
            ]
        stream_arn = table["LatestStreamArn"]
        self.runtime = FunctionRuntime(EVENTS_PUBLISHER, handler)
        trigger = EVENTS_PUBLISHER.stream_trigger
        assert trigger is not None
        self.delivery = StreamDelivery(
            streams_client(),
            stream_arn,
            self.runtime.invoke,
            batch_size=trigger.batch_size,
            retry_attempts=trigger.retry_attempts,
        )
        self.received: list[dict[str, Any]] = []  # EventBridge envelopes, in arrival order

    def drain(self) -> list[dict[str, Any]]:
        """Deliver the stream to the publisher; the envelopes that reached the bus since last time."""
        self.delivery.pump()
        new: list[dict[str, Any]] = []
        while True:
            messages = self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                break
            for message in messages:
                new.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.received += new
        return new

    def details(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every detail received so far (of one kind), each checked against its kind's model and
        against its committed JSON Schema (docs/events/<kind>.json)."""
        self.drain()
        found = []
        for envelope in self.received:
            assert envelope["source"] == SOURCE
            detail = envelope["detail"]
            assert envelope["detail-type"] == detail["kind"]
            MODELS_BY_KIND[detail["kind"]].model_validate(detail)
            check_against_schema(detail)
            if kind is None or detail["kind"] == kind:
                found.append(detail)
        return found

    def kinds(self) -> list[str]:
        return sorted(detail["kind"] for detail in self.details())
