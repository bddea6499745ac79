"""Lambda SQS events in tests: a recording handler to put in place of (or around) a queue
function of the local stack, and readers of the S3 notifications the records carry."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

Record = dict[str, Any]
Handler = Callable[[dict[str, Any], Any], Any]


def s3_keys(record: Record) -> list[str]:
    """The object keys of an S3 notification carried by an SQS record, decoded (S3 sends
    them URL-encoded, spaces as `+`); [] for an `s3:TestEvent` or another body."""
    body = json.loads(record["body"])
    if not isinstance(body, dict):
        return []
    return [unquote_plus(r["s3"]["object"]["key"]) for r in body.get("Records", []) if "s3" in r]


def is_s3_test_event(record: Record) -> bool:
    body = json.loads(record["body"])
    return isinstance(body, dict) and body.get("Event") == "s3:TestEvent"


def receive_count(record: Record) -> int:
    return int(record["attributes"]["ApproximateReceiveCount"])


class RecordingHandler:
    """Records every event it is invoked with, then answers as a partial batch response.

    - `fail(record)`: True to report the record in `batchItemFailures`;
    - `raise_when(record)`: True for any record of the batch makes the invocation raise;
    - `delegate`: a handler called after recording (e.g. the real one); its answer is returned.
    Invocations come from the stack's delivery thread: read after `stack.wait_for_queues()`.
    """

    def __init__(
        self,
        *,
        fail: Callable[[Record], bool] | None = None,
        raise_when: Callable[[Record], bool] | None = None,
        delegate: Handler | None = None,
    ):
        self.fail = fail
        self.raise_when = raise_when
        self.delegate = delegate
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.events.append(event)
        records = event["Records"]
        if self.raise_when is not None and any(self.raise_when(record) for record in records):
            raise RuntimeError("RecordingHandler: raising as asked")
        if self.delegate is not None:
            return self.delegate(event, context)
        failed = [r for r in records if self.fail is not None and self.fail(r)]
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return [record for event in self.events for record in event["Records"]]

    def records_for(self, key: str) -> list[Record]:
        """The records of S3 notifications about `key` (decoded), in delivery order."""
        return [record for record in self.records if key in s3_keys(record)]


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive (and delete) every message waiting on the queue."""
    bodies: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
