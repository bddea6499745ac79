"""The issuing child of `bench/instruments.py` (`python bench/instruments.py issue`): gift cards
through the API and the BatchIssuer, the CSV export and the number generation apart, and the raw
batch_writer of the same items."""

from __future__ import annotations

import cProfile
import csv
import io
import os
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from bench.instruments_common import (
    BUCKET,
    GROUP,
    QUEUE,
    RAW_GROUPS,
    SERIES,
    Calls,
    callers,
    code_clients,
    expect_status,
    item_bytes,
    setup_series,
)
from bench.processes import REGION, backend_client

# --- issuing gift cards ------------------------------------------------------------------


class _IssuerContext:
    """The BatchIssuer's Lambda context: its remaining time counts down from its timeout."""

    function_name = "BatchIssuer"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:BatchIssuer"
    aws_request_id = "bench"

    def __init__(self) -> None:
        from loyalty_engine.wiring import BATCH_ISSUER

        self.memory_limit_in_mb = BATCH_ISSUER.memory_mb
        self._deadline = time.monotonic() + BATCH_ISSUER.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _sqs_event(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{QUEUE}",
                "awsRegion": REGION,
            }
        ]
    }


def _raw_items(series: Any, batch: Any, group: str, numbers: list[str]) -> list[dict[str, Any]]:
    """The instrument items the BatchIssuer writes for these numbers, under another group."""
    from loyalty_engine.instruments.instrument_store import issued_instrument_item
    from loyalty_engine.instruments.series_use_cases import _card  # the issuer's own instrument of a number

    return [issued_instrument_item(group, _card(series, batch, number)) for number in numbers]


def server_cpu_s() -> float:
    """The moto server's CPU time so far (user + system, all its threads); 0 where /proc is not."""
    try:
        with open(f"/proc/{os.environ['BENCH_BACKEND_PID']}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (KeyError, OSError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def raw_batch_writer(items: list[dict[str, Any]]) -> dict[str, Any]:
    """boto3's batch_writer putting the items (built beforehand, not timed)."""
    import boto3

    table = boto3.resource("dynamodb", region_name=REGION).Table(os.environ["TABLE_NAME"])
    calls: Counter[str] = Counter()
    table.meta.client.meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.update([model.name])
    )
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu_s()
    with table.batch_writer() as writer:
        for item in items:
            writer.put_item(Item=item)
    wall, cpu, server = time.perf_counter() - started, time.process_time() - cpu, server_cpu_s() - server
    return {
        "items": len(items),
        "wall_s": wall,
        "cpu_s": cpu,
        "server_cpu_s": server,
        "items_per_s": len(items) / wall,
        "calls": dict(calls),
    }


def _issue(calls: Calls, cards: int, batch_id: str, profile: str | None) -> dict[str, Any]:
    """The batch through the API (202, queued), then the BatchIssuer until it is completed."""
    from loyalty_engine.handlers import instrument_batches
    from loyalty_engine.instruments import series_use_cases as series_logic
    from tests.support.api import call

    admin, _ = callers()
    sqs = backend_client("sqs", os.environ["AWS_ENDPOINT_URL"])  # the harness's: not counted
    calls.reset()
    started = time.perf_counter()
    reply = call(
        "api_create_batch", admin, path={"series_id": SERIES}, body={"batch_id": batch_id, "count": cards}
    )
    api_wall = time.perf_counter() - started
    created = expect_status(reply, 202, "create batch")
    api_calls = dict(calls.calls)

    # The export step timed apart (the same function, wrapped: the issuer's code is unchanged).
    export = {"csv_s": 0.0, "csv_cpu_s": 0.0, "bytes": 0}
    original_export = series_logic.export_csv

    def timed_export(*args: Any) -> bytes:
        begun, begun_cpu = time.perf_counter(), time.process_time()
        body = original_export(*args)
        export["csv_s"] += time.perf_counter() - begun
        export["csv_cpu_s"] += time.process_time() - begun_cpu
        export["bytes"] = len(body)
        return body

    series_logic.export_csv = timed_export  # type: ignore[assignment]
    profiler = cProfile.Profile() if profile else None
    calls.reset()
    invocations = 0
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu_s()
    try:
        while True:
            messages = sqs.receive_message(QueueUrl=os.environ["BATCH_QUEUE_URL"], MaxNumberOfMessages=1).get(
                "Messages", []
            )
            if not messages:
                break
            invocations += 1
            if profiler is not None:
                profiler.enable()
            response = instrument_batches.handler(_sqs_event(messages[0]), _IssuerContext())
            if profiler is not None:
                profiler.disable()
            if response.get("batchItemFailures"):
                raise RuntimeError(f"the batch issuer failed: {response}")
            sqs.delete_message(
                QueueUrl=os.environ["BATCH_QUEUE_URL"], ReceiptHandle=messages[0]["ReceiptHandle"]
            )
    finally:
        series_logic.export_csv = original_export
    wall, cpu, server = time.perf_counter() - started, time.process_time() - cpu, server_cpu_s() - server
    if profiler is not None and profile:
        profiler.dump_stats(profile)
    return {
        "api_status": reply.status,
        "api_progress": created["progress"],
        "api_wall_s": api_wall,
        "api_calls": api_calls,
        "invocations": invocations,
        "wall_s": wall,
        "cpu_s": cpu,
        "server_cpu_s": server,
        "calls": dict(sorted(calls.calls.items())),
        "call_seconds": {op: round(t, 3) for op, t in sorted(calls.seconds.items())},
        "attempts": calls.attempts,
        "items_written": calls.items_written,
        "export_csv_s": export["csv_s"],
        "export_csv_cpu_s": export["csv_cpu_s"],
        "export_bytes": export["bytes"],
    }


def do_issue(cards: int, profile: str | None) -> dict[str, Any]:
    from loyalty_engine.instruments.batches import Batch, all_numbers, numbers_at
    from loyalty_engine.instruments.context import instrument_services

    admin, _ = callers()
    setup_series(admin)
    svc = instrument_services()
    calls = Calls(code_clients())
    series = svc.series.series(GROUP, SERIES)
    assert series is not None
    batch_id = f"bench-{cards}"
    start = series.next_index  # the batch reserves the indexes from here: the same numbers
    now = datetime.now(UTC)
    stand_in = Batch(
        batch_id=batch_id,
        series_id=SERIES,
        count=cards,
        ranges=[(start, start + cards)],
        fingerprint="-",
        created_at=now,
        updated_at=now,
    )
    # Number generation alone, as the issuer draws them (and again for the raw items).
    began, began_cpu = time.perf_counter(), time.process_time()
    numbers = numbers_at(series, stand_in, 0, cards)
    generation_s, generation_cpu_s = time.perf_counter() - began, time.process_time() - began_cpu

    raws = [raw_batch_writer(_raw_items(series, stand_in, RAW_GROUPS[0], numbers))]
    issued = _issue(calls, cards, batch_id, profile)
    raws.append(raw_batch_writer(_raw_items(series, stand_in, RAW_GROUPS[1], numbers)))

    batch = svc.series.batch(GROUP, SERIES, batch_id)
    if batch is None or batch.status != "completed" or batch.issued != cards:
        raise RuntimeError(f"batch not completed: {batch}")
    if issued["items_written"] != cards:
        raise RuntimeError(f"{issued['items_written']} instrument items written for {cards} cards")
    if all_numbers(series, batch) != numbers:
        raise RuntimeError("the batch's numbers are not the ones the raw runs wrote")
    assert batch.export_key
    body = code_clients()["s3"].get_object(Bucket=BUCKET, Key=batch.export_key)["Body"].read()
    rows = list(csv.reader(io.StringIO(body.decode())))
    if len(rows) != cards + 1 or {row[0] for row in rows[1:]} != set(numbers):
        raise RuntimeError("the export does not list the batch's numbers")
    return {
        "cards": cards,
        "generation_s": generation_s,
        "generation_cpu_s": generation_cpu_s,
        "issue": issued,
        "raw": raws,
        "item_bytes": item_bytes(_raw_items(series, stand_in, GROUP, numbers[:1])[0]),
    }
