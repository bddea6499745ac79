"""Webhooks on moto: a receiver on 127.0.0.1 (http.server in a thread, answering as a test
scripts it), and the wiring's webhook queues and bus rule with the real dispatcher and delivery
handlers fed from them (as Lambda's event source mappings feed them: partial batch failures)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from local_stack.queues import batch_item_failures
from local_stack.runtime import FunctionRuntime, reset_handler_caches
from loyalty_engine.events.models import BUS_ENV, SOURCE, DomainEvent, bus_name
from loyalty_engine.kernel import settings
from loyalty_engine.wiring import WEBHOOK_DELIVERY, WEBHOOK_DISPATCHER, WEBHOOK_EVENT_QUEUE, WEBHOOK_QUEUE

BUS = bus_name("test")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Answers each POST with the next scripted (status, delay_s), then with `default`."""

    script: list[tuple[int, float]] = field(default_factory=list)
    default: tuple[int, float] = (200, 0.0)
    received: list[Received] = field(default_factory=list)
    answer_text: str = "ok"
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@contextmanager
def receiver(script: list[tuple[int, float]] | None = None, answer_text: str = "ok") -> Iterator[Receiver]:
    state = Receiver(script=list(script or []), answer_text=answer_text)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state.received.append(Received(dict(self.headers.items()), body, time.time()))
                status, delay = state.script.pop(0) if state.script else state.default
            time.sleep(delay)
            text = state.answer_text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
            except OSError:
                pass  # the sender gave up waiting (a timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class WebhookQueues:
    """The webhook queues (each with its dead-letter queue) and the bus rule, on moto; `pump`
    feeds the real handlers until nothing is left (or due within `wait_s`)."""

    def __init__(self, monkeypatch: Any, **environment: str):
        sqs = self.sqs = boto3.client("sqs")
        events = boto3.client("events")
        events.create_event_bus(Name=BUS)
        self.urls: dict[str, str] = {}
        self.arns: dict[str, str] = {}
        for queue in (WEBHOOK_EVENT_QUEUE, WEBHOOK_QUEUE):
            dlq = sqs.create_queue(QueueName=f"{queue.name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count})
            url = sqs.create_queue(QueueName=queue.name, Attributes={"RedrivePolicy": redrive})["QueueUrl"]
            self.urls[queue.name], self.urls[f"{queue.name}-dlq"] = url, dlq
            self.arns[queue.name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        events.put_rule(Name="webhooks", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]}))
        events.put_targets(
            Rule="webhooks",
            EventBusName=BUS,
            Targets=[{"Id": "q", "Arn": self.arns[WEBHOOK_EVENT_QUEUE.name]}],
        )
        variables = {
            BUS_ENV: BUS,
            WEBHOOK_QUEUE.env: self.urls[WEBHOOK_QUEUE.name],
            "WEBHOOK_DLQ_URL": self.urls[f"{WEBHOOK_QUEUE.name}-dlq"],
            "WEBHOOKS_ALLOW_HTTP": "true",
            "WEBHOOKS_ALLOW_PRIVATE": "true",
            "WEBHOOK_RETRY_BASE_S": "0.2",
            "WEBHOOK_RETRY_CAP_S": "0.5",
            # SQS delays are whole seconds (a retry waits >= 1 s): a window long enough that a
            # loaded machine still makes the scripted retries; the dead-letter test sets its own
            "WEBHOOK_RETRY_WINDOW_S": "30",
            **environment,
        }
        for name, value in variables.items():  # put back as they were after the test
            monkeypatch.setenv(name, value)
        settings.forget()
        reset_handler_caches()
        self.dispatcher = FunctionRuntime(WEBHOOK_DISPATCHER)
        self.delivery = FunctionRuntime(WEBHOOK_DELIVERY)
        self.invocations = 0

    def publish(self, *events: DomainEvent) -> None:
        """Put events on the bus as the publisher does (the rule sends them to the dispatcher's queue)."""
        from loyalty_engine.events.bus_store import EventBus, client

        assert not EventBus(client(), BUS).put(list(events))

    def _batch(self, queue: str, runtime: FunctionRuntime, size: int) -> bool:
        url = self.urls[queue]
        messages = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=size, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return False
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {k: str(v) for k, v in m.get("Attributes", {}).items()},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arns[queue],
                    "awsRegion": os.environ["AWS_DEFAULT_REGION"],
                }
                for m in messages
            ]
        }
        self.invocations += 1
        failed = batch_item_failures(runtime.invoke(event), [m["MessageId"] for m in messages])
        for m in messages:
            if m["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return True

    def waiting(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.urls[queue], AttributeNames=["All"])[
            "Attributes"
        ]
        return sum(
            int(attributes.get(name, 0))
            for name in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )

    def pump(self, timeout_s: float = 30.0) -> None:
        """Deliver until both queues are empty (delayed messages included)."""
        deadline = time.monotonic() + timeout_s
        while True:
            busy = self._batch(WEBHOOK_EVENT_QUEUE.name, self.dispatcher, WEBHOOK_DISPATCHER_BATCH)
            busy = self._batch(WEBHOOK_QUEUE.name, self.delivery, WEBHOOK_DELIVERY_BATCH) or busy
            if busy:
                continue
            if not self.waiting(WEBHOOK_EVENT_QUEUE.name) and not self.waiting(WEBHOOK_QUEUE.name):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the webhook queues are not drained")
            time.sleep(0.05)

    def dead_letters(self) -> list[dict[str, Any]]:
        """The deliveries' dead letters, taken off their queue."""
        from tests.support.queues import receive_all

        return receive_all(self.sqs, self.urls[f"{WEBHOOK_QUEUE.name}-dlq"])

    def redrive(self, dead_letter: dict[str, Any]) -> None:
        """What an operator's SQS redrive does: the dead letter back on the deliveries' queue."""
        self.sqs.send_message(QueueUrl=self.urls[WEBHOOK_QUEUE.name], MessageBody=json.dumps(dead_letter))


assert WEBHOOK_DISPATCHER.queue_trigger is not None and WEBHOOK_DELIVERY.queue_trigger is not None
WEBHOOK_DISPATCHER_BATCH = WEBHOOK_DISPATCHER.queue_trigger.batch_size
WEBHOOK_DELIVERY_BATCH = WEBHOOK_DELIVERY.queue_trigger.batch_size
