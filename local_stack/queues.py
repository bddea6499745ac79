"""SQS -> Lambda, as an event source mapping with `ReportBatchItemFailures` delivers it.

One `QueueDelivery` per function with a `queue_trigger`: a thread receives up to
`batch_size` messages, builds the Lambda SQS event, invokes the function through its
runtime (one invocation at a time in the process), then

- deletes the messages that are not in the answer's `batchItemFailures`;
- leaves the failed ones on the queue, to be received again (ApproximateReceiveCount + 1).
  On AWS they reappear after the queue's visibility timeout; here their visibility is set
  to `retry_delay_s` so that retries are quick. A handler that raises, an answer that is
  not a partial batch response, or an `itemIdentifier` that is not one of the batch's
  message ids fails the whole batch, as on Lambda.
- After `max_receive_count` receives, moto's redrive policy moves a message to the
  dead-letter queue on the next receive (as SQS does); nothing is emulated here.

The thread polls with `WaitTimeSeconds=0` every `poll_interval_s`: moto's long poll waits
inside the request, and the local AWS serves one request at a time, so a long poll would
stall every other AWS call of the stack.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_stack import aws
from local_stack.resources import LocalQueue
from local_stack.runtime import FunctionRuntime, InvocationError

POLL_INTERVAL_S = 0.1
BUSY_LOOK_INTERVAL_S = 0.25  # wait_until_drained, while messages are waiting
STOP_TIMEOUT_S = 10.0


class QueueDelivery:
    """Delivers a queue's messages to one function, in batches, in a background thread."""

    def __init__(
        self,
        runtime: FunctionRuntime,
        queue: LocalQueue,
        endpoint_url: str,
        *,
        retry_delay_s: int = 1,
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        trigger = runtime.spec.queue_trigger
        if trigger is None or trigger.queue != queue.spec.name:
            raise ValueError(f"{runtime.spec.name} is not triggered by queue {queue.spec.name}")
        self.runtime = runtime
        self.queue = queue
        self.batch_size = trigger.batch_size
        self.retry_delay_s = retry_delay_s
        self.poll_interval_s = poll_interval_s
        self.invocations = 0  # batches handed to the function
        self.failed_invocations = 0  # batches failed as a whole (raised, or an invalid answer)
        self._sqs = aws.client("sqs", endpoint_url)
        self._stopping = threading.Event()
        # Held for a whole cycle (receive, invoke, delete): whoever holds it sees the queue
        # between two cycles, never with messages received but not yet settled.
        self._cycle = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-{queue.spec.name}->{runtime.spec.name}", daemon=True
        )

    def start(self) -> QueueDelivery:
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop polling; a batch being handled is finished first (up to `timeout`)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                sys.stderr.write(
                    f"local stack: {self.runtime.spec.name} still handles a batch after {timeout:.0f} s; "
                    "left running in the background\n"
                )

    # ------------------------------------------------------------ draining

    def pending(self) -> dict[str, int]:
        """The queue's visible, in-flight and delayed message counts."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        }

    @contextlib.contextmanager
    def between_cycles(self, timeout: float) -> Iterator[bool]:
        """Hold off the next delivery cycle while the block runs; yields False if a batch was
        still being handled after `timeout` seconds (the block then runs anyway)."""
        acquired = self._cycle.acquire(timeout=max(timeout, 0.0))
        try:
            yield acquired
        finally:
            if acquired:
                self._cycle.release()

    # ------------------------------------------------------------ delivery

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._cycle:
                    delivered = self._cycle_once()
            except (ClientError, BotoCoreError) as error:
                if self._stopping.is_set():
                    return
                sys.stderr.write(f"local stack: polling {self.queue.spec.name} failed: {error}\n")
                delivered = False
            if not delivered:
                self._stopping.wait(self.poll_interval_s)

    def _cycle_once(self) -> bool:
        """Receive one batch and settle it; False when the queue had nothing to deliver."""
        if self._stopping.is_set():
            return False
        messages = self._sqs.receive_message(
            QueueUrl=self.queue.url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        event = {"Records": [self._record(message) for message in messages]}
        failed = self._invoke(event, [message["MessageId"] for message in messages])
        done = [m for m in messages if m["MessageId"] not in failed]
        retried = [m for m in messages if m["MessageId"] in failed]
        for chunk in _chunks(done, 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        for chunk in _chunks(retried, 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue.url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self.retry_delay_s,
                    }
                    for i, m in enumerate(chunk)
                ],
            )
        return True

    def _invoke(self, event: dict[str, Any], message_ids: list[str]) -> set[str]:
        """Invoke the function; the ids of the messages to deliver again."""
        self.invocations += 1
        try:
            answer = self.runtime.invoke(event)
            return batch_item_failures(answer, message_ids)
        except Exception as error:
            self.failed_invocations += 1
            kind = "failed" if isinstance(error, InvocationError) else "raised"
            sys.stderr.write(
                f"local stack: {self.runtime.spec.name} {kind} on a batch of {len(message_ids)} "
                f"from {self.queue.spec.name}; the whole batch will be delivered again\n"
            )
            traceback.print_exc(file=sys.stderr)
            return set(message_ids)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One record of the Lambda SQS event, from a ReceiveMessage message."""
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {name: str(value) for name, value in message.get("Attributes", {}).items()},
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue.arn,
            "awsRegion": aws.REGION,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record


def batch_item_failures(answer: Any, message_ids: list[str]) -> set[str]:
    """The message ids a partial batch response asks to retry (Lambda's reading of it).

    None, `{}` or an empty list: all succeeded. An answer Lambda cannot read as a partial
    batch response, or an `itemIdentifier` that is empty or not in the batch: the whole
    batch failed (raises InvocationError).
    """
    if answer is None:
        return set()
    if not isinstance(answer, dict):
        raise InvocationError(f"not a partial batch response: {answer!r:.200}")
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvocationError(f"batchItemFailures is not a list: {failures!r:.200}")
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            raise InvocationError(f"batchItemFailures names no message of the batch: {failure!r:.200}")
        failed.add(identifier)
    return failed


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda passes it (camelCase, binary values in base64)."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def wait_until_drained(deliveries: Iterable[QueueDelivery], timeout: float) -> None:
    """Return once, at one moment, no batch is being handled and every queue is empty
    (nothing visible, in flight or delayed); TimeoutError with the counts otherwise."""
    deliveries = list(deliveries)
    deadline = time.monotonic() + timeout
    while True:
        # A first look without holding off the deliveries, and not too often: while messages
        # wait, every look is AWS calls the deliveries' calls queue behind (one at a time).
        counts: dict[str, dict[str, int]] = {d.queue.spec.name: d.pending() for d in deliveries}
        if any(any(c.values()) for c in counts.values()) and time.monotonic() < deadline:
            time.sleep(min(BUSY_LOOK_INTERVAL_S, max(deadline - time.monotonic(), 0.0)))
            continue
        with contextlib.ExitStack() as held:
            idle = [held.enter_context(d.between_cycles(deadline - time.monotonic())) for d in deliveries]
            if all(idle):
                counts = {d.queue.spec.name: d.pending() for d in deliveries}
                if not any(any(c.values()) for c in counts.values()):
                    return
        if time.monotonic() >= deadline:
            busy = [d.runtime.spec.name for d, ok in zip(deliveries, idle, strict=True) if not ok]
            raise TimeoutError(f"queues not drained after {timeout} s: {counts or ''} busy: {busy}")
        time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
