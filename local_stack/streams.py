"""DynamoDB stream -> Lambda, as an event source mapping with `ReportBatchItemFailures` and
`BisectBatchOnFunctionError` delivers it (moto serves DynamoDB Streams).

One `StreamDelivery` per function with a `stream_trigger`: it reads every shard of the table's
stream from its start, builds the Lambda DynamoDB stream event (up to `batch_size` records),
invokes the function, then

- moves past the records before the first one the answer's `batchItemFailures` names (Lambda
  checkpoints at the lowest failed sequence number), and delivers the rest again;
- a handler that raises, or an answer that names no record of the batch, fails the whole
  batch; the batch is then split in two (bisect) and each half retried;
- a record that failed `retry_attempts` times is given up: kept in `given_up` (the on-failure
  queue of a deployed stack) and the shard moves on.

`pump()` delivers what the stream holds now and returns (tests drive it directly); `start()`
runs it in a background thread (the local stack).
"""

from __future__ import annotations

import base64
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

POLL_INTERVAL_S = 0.1
STOP_TIMEOUT_S = 10.0
Invoke = Callable[[dict[str, Any]], Any]


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over (the creation time in epoch seconds, binary
    values as base64 text)."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in body:
            body[image] = {name: _as_sent(value) for name, value in body[image].items()}
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }


def _as_sent(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as JSON carries it: botocore's bytes (B, BS) back to base64 text."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode() if isinstance(inner, bytes) else inner}
    if kind == "BS":
        return {"BS": [base64.b64encode(v).decode() if isinstance(v, bytes) else v for v in inner]}
    if kind == "L":
        return {"L": [_as_sent(v) for v in inner]}
    if kind == "M":
        return {"M": {k: _as_sent(v) for k, v in inner.items()}}
    return value


@dataclass
class _Shard:
    last: str | None = None  # the sequence number of the last record read
    waiting: list[dict[str, Any]] = field(default_factory=list)  # read, not yet delivered
    attempts: dict[str, int] = field(default_factory=dict)  # sequence number -> failed deliveries


class StreamDelivery:
    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        invoke: Invoke,
        *,
        batch_size: int = 100,
        retry_attempts: int = 10,
        region: str = "eu-west-1",
        poll_interval_s: float = POLL_INTERVAL_S,
    ):
        self._streams = streams
        self.stream_arn = stream_arn
        self._invoke = invoke
        self.batch_size = batch_size
        self.retry_attempts = retry_attempts
        self.region = region
        self.poll_interval_s = poll_interval_s
        self.invocations = 0
        self.failed_invocations = 0
        self.given_up: list[dict[str, Any]] = []  # records past their retries (the on-failure queue)
        self._shards: dict[str, _Shard] = {}
        self._cycle = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ddb-stream", daemon=True)

    # ------------------------------------------------------------ running

    def start(self) -> StreamDelivery:
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = self.pump(max_batches=1)
            except (ClientError, BotoCoreError) as error:
                if self._stopping.is_set():
                    return
                sys.stderr.write(f"local stack: reading the table's stream failed: {error}\n")
                delivered = 0
            if not delivered:
                self._stopping.wait(self.poll_interval_s)

    def pump(self, max_batches: int | None = None) -> int:
        """Deliver what the stream holds now (retries included); the number of invocations."""
        invocations = 0
        with self._cycle:
            while max_batches is None or invocations < max_batches:
                self._read()
                shard = next((s for s in self._shards.values() if s.waiting), None)
                if shard is None:
                    return invocations
                self._deliver(shard, shard.waiting[: self.batch_size])
                invocations += 1
        return invocations

    def idle(self) -> bool:
        """Nothing read and waiting, nothing new in the stream (one look)."""
        with self._cycle:
            self._read()
            return not any(s.waiting for s in self._shards.values())

    # ------------------------------------------------------------ reading

    def _read(self) -> None:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for described in shards:
            shard_id = described["ShardId"]
            shard = self._shards.setdefault(shard_id, _Shard())
            # A fresh iterator after the last record read, each time: moto's iterators keep the
            # shard they were made on, which a cancelled transaction replaces (its rollback).
            position = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last}
                if shard.last is not None
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, **position
            )["ShardIterator"]
            while iterator is not None:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                records = answer.get("Records", [])
                if not records:
                    break
                shard.waiting += [lambda_record(r, self.stream_arn, self.region) for r in records]
                shard.last = records[-1]["dynamodb"]["SequenceNumber"]
                iterator = answer.get("NextShardIterator")

    # ------------------------------------------------------------ delivering

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        """One invocation; bisects a batch that failed as a whole."""
        self.invocations += 1
        sequence = [r["dynamodb"]["SequenceNumber"] for r in batch]
        try:
            answer = self._invoke({"Records": batch})
            failed = _failed(answer, sequence)
        except Exception:
            self.failed_invocations += 1
            traceback.print_exc(file=sys.stderr)
            failed = None
        if failed is None:  # the whole batch failed: retry its first half (bisect), in shard order
            self._count_failure(shard, batch[0])
            if len(batch) > 1 and shard.waiting and shard.waiting[0] is batch[0]:
                self._deliver(shard, batch[: len(batch) // 2])
            return
        first = min((sequence.index(s) for s in failed), default=len(batch))
        shard.waiting = shard.waiting[first:]  # a batch always starts at the front of its shard
        if first < len(batch):
            self._count_failure(shard, batch[first])

    def _count_failure(self, shard: _Shard, record: dict[str, Any]) -> None:
        number = record["dynamodb"]["SequenceNumber"]
        shard.attempts[number] = shard.attempts.get(number, 0) + 1
        if shard.attempts[number] > self.retry_attempts and shard.waiting and shard.waiting[0] is record:
            self.given_up.append(shard.waiting.pop(0))


def _failed(answer: Any, sequence: list[str]) -> set[str] | None:
    """The sequence numbers a partial batch response names; None if the whole batch failed."""
    if answer is None or not isinstance(answer, dict):
        return set() if answer is None else None
    failures = answer.get("batchItemFailures") or []
    named = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
    if not named <= set(sequence):
        return None
    return {str(n) for n in named}
