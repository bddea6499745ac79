"""Instrument benchmarks (issue 5), part of `make bench`; also `python bench/instruments.py --help`.

Against a moto server in a process of its own (`bench/jobs.py`'s backend: `bench/moto_backend.py`
with fast reads, plus the transaction change below), each part in a fresh process:

1. Issuing BENCH_INSTRUMENT_CARDS gift cards (default 20,000; the issue's size:
   `BENCH_INSTRUMENT_CARDS=100000 make bench`, or `python bench/instruments.py --cards 100000`)
   as in production: POST /v1/series/gift/batches through the instrument API (202: the batch is
   larger than SYNC_BATCH_LIMIT, here 0, so a message goes to the batch queue), then the BatchIssuer
   (`handlers.instrument_batches.handler`) on an SQS event of that message, invoked again on
   every continuation it queues (its context counts down from BATCH_ISSUER's timeout), until
   the batch is completed and its CSV export is in S3. Reported: DynamoDB requests per card by
   operation, cards/s and its ratio to a raw boto3 `batch_writer` putting the same instrument
   items (`instruments.instrument_store.issued_instrument_item` of the same numbers, under a loyalty group
   of the same length, so the same item size) to the same table, measured in turns: raw, batch,
   raw. Also, apart: the CSV export (`instruments.series_use_cases.export_csv` regenerating the numbers, and its
   S3 PutObject), and the number generation alone (`instruments.batches.numbers_at`).
   A projection to AWS (the run's request counts at in-region latencies, its CPU time scaled
   to the BatchIssuer's vCPU share) for the issue's 100,000 cards.
2. Point-of-sale round trips through the real API handler (`handlers.instrument_api.handler`
   with the `events/api_*.json` samples and a key bound to merchant `store-1`), in a small
   table of its own, after one warm-up call of each: BENCH_INSTRUMENT_POS (default 200)
   activations, lookups, redemptions of distinct cards, their replays, their reversals,
   redemptions of one card one after the other, refused redemptions (insufficient balance),
   and store credits issued on distinct returns. DynamoDB requests are counted with botocore
   hooks on the code's client (calls by operation, and HTTP attempts: more if botocore
   retried); p50/p95 latency of the whole handler call on moto. Goal: <= 2 per redemption.

The backend change, for speed only (`local_stack/moto_transactions.py`, as the local stack): moto deep-copies every table a TransactWriteItems touches
before applying it (to roll back on a failed condition), a cost growing with the table that
DynamoDB does not have. Here the items the transaction names are copied instead, and put back
if it fails; one request at a time, as moto_backend serves, so no other write can come in
between. The answers are moto's own. The wall-time ratio suffers from whatever else the machine
runs; the CPU time of both processes (this one and the moto server's, from /proc) is printed
too, with the ratio it gives.

Time on the 2-core machine, when it is otherwise idle: about 100 s with the defaults, 5 minutes
with 100,000 cards (the raw runs write as many items again, twice). Figures are printed as
tables and written to `.bench/instruments.json`.
`python bench/instruments.py profile --cards 20000` prints a cProfile of the BatchIssuer's run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import io
import json
import math
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.aws_model import FULL_VCPU_MB
from bench.processes import REGION, ROOT, Backend, backend_client, child_env, run_child
from local_stack.moto_transactions import item_rollback_transactions

OUT = ROOT / ".bench" / "instruments.json"
WORK = ROOT / ".bench" / "instruments"
ISSUE_TABLE = "loyalty-bench-instruments"
POS_TABLE = "loyalty-bench-pos"
BUCKET = "loyalty-bench-exports"
QUEUE = "loyalty-bench-batches"
GROUP = "demo"
RAW_GROUPS = ("rawa", "rawb")  # as long as GROUP: the raw items have the issued items' size
SERIES = "gift"
CREDIT_SERIES = "credit"
CARDS = 20_000  # what fits in `make bench`; the issue's: BENCH_INSTRUMENT_CARDS=100000
POS_OPERATIONS = 200
GOAL_ROUND_TRIPS = 2  # per redemption

# The projection's assumptions: p50 latencies in-region, calls one after the other as the
# BatchIssuer makes them; its CPU time scaled to its share of a vCPU.
PROJECTION: dict[str, Any] = {
    "dynamodb_ms": {"BatchWriteItem": 10.0, "PutItem": 5.0, "UpdateItem": 5.0, "GetItem": 3.0, "Query": 5.0},
    "dynamodb_other_ms": 5.0,
    "s3_put_mb_s": 50.0,
    "s3_request_ms": 20.0,
    "full_vcpu_mb": FULL_VCPU_MB,
    "cards": 100_000,
}


def default_cards() -> int:
    return int(os.environ.get("BENCH_INSTRUMENT_CARDS") or CARDS)


def default_pos_operations() -> int:
    return int(os.environ.get("BENCH_INSTRUMENT_POS") or POS_OPERATIONS)


# --- the moto backend ----------------------------------------------------------------------


def serve() -> None:
    from bench import jobs

    item_rollback_transactions()
    jobs.serve()


BACKEND = (sys.executable, str(Path(__file__).resolve()), "backend")


# --- the parent ----------------------------------------------------------------------------


def prepare(endpoint: str) -> str:
    """Both tables, the export bucket and the batch queue; returns the queue URL."""
    from loyalty_engine.kernel.table import create_table_params, enable_ttl_params

    dynamodb = backend_client("dynamodb", endpoint)
    for name in (ISSUE_TABLE, POS_TABLE):
        dynamodb.create_table(**create_table_params(name))
        dynamodb.update_time_to_live(**enable_ttl_params(name))
    s3 = backend_client("s3", endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return str(backend_client("sqs", endpoint).create_queue(QueueName=QUEUE)["QueueUrl"])


def child(mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    return run_child(__file__, WORK / f"{mode}.json", mode, env, *args)


def run_children(cards: int | None, operations: int | None, profile: Path | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    backend = Backend(BACKEND)
    with backend as endpoint:
        queue_url = prepare(endpoint)
        pid = str(backend._process.pid)  # the server's CPU time is read from /proc
        if cards:
            env = child_env(
                endpoint,
                ISSUE_TABLE,
                EXPORT_BUCKET=BUCKET,
                BATCH_QUEUE_URL=queue_url,
                BENCH_BACKEND_PID=pid,
                SYNC_BATCH_LIMIT="0",  # every size through the queue and the BatchIssuer
            )
            args = ["--cards", str(cards)] + (["--profile", str(profile)] if profile else [])
            started = time.perf_counter()
            results["issue"] = child("issue", env, *args)
            results["issue"]["child_wall_s"] = time.perf_counter() - started
        if operations:
            env = child_env(endpoint, POS_TABLE, EXPORT_BUCKET=BUCKET, SYNC_BATCH_LIMIT="100000")
            results["pos"] = child("pos", env, "--operations", str(operations))
    return results


# --- what the children do: shared --------------------------------------------------------

ADMIN_KEY = "01JD0000000000000000000000"
POS_KEY = "01JD0000000000000000000001"


def _callers() -> tuple[Any, Any]:
    from loyalty_engine.access.models import Caller

    admin = Caller(group_id=GROUP, key_id=ADMIN_KEY, scopes=("admin",))
    pos = Caller(group_id=GROUP, key_id=POS_KEY, scopes=("shop",), merchant_id="store-1")
    return admin, pos


def _ok(reply: Any, status: int, what: str) -> Any:
    if reply.status != status:
        raise RuntimeError(f"{what}: {reply.status} {reply.body}")
    return reply.body


def _setup_series(admin: Any) -> None:
    """Merchant group `stores`, merchant `store-1`, the sample gift card series (6012, 16 digits,
    open value 5-500 EUR) and a store credit series (6013), through the API."""
    from tests.support.api import call

    _ok(call("api_put_merchant_group", admin), 201, "merchant group")
    _ok(call("api_put_merchant", admin), 201, "merchant")
    _ok(call("api_put_series", admin), 201, "gift card series")
    credit = {
        "name": "Store credit",
        "kind": "store_credit",
        "prefix": "6013",
        "length": 16,
        "issuer_group": "stores",
        "acceptor_group": "stores",
        "currency": "EUR",
        "min_value": "0.01",
        "max_value": "1000.00",
        "validity": {"value": 1, "unit": "years"},
    }
    _ok(call("api_put_series", admin, path={"series_id": CREDIT_SERIES}, body=credit), 201, "credit series")


class Calls:
    """AWS requests by service.operation on the code's clients (botocore hooks), the time spent
    in each, the items of BatchWriteItem requests and the DynamoDB HTTP attempts."""

    def __init__(self, clients: dict[str, Any]):
        self.calls: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self.attempts = 0
        self.items_written = 0
        self.sequence: list[str] = []
        self._started = 0.0
        for service, made in clients.items():
            made.meta.events.register(f"before-call.{service}", self._before)
            made.meta.events.register(f"after-call.{service}", self._after)
        dynamodb = clients["dynamodb"]
        dynamodb.meta.events.register("before-send.dynamodb", self._send)
        dynamodb.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", self._batch)

    @staticmethod
    def _name(model: Any) -> str:
        return f"{model.service_model.service_name}.{model.name}"

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[self._name(model)] += 1
        self.sequence.append(self._name(model))
        self._started = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        name = self._name(model)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - self._started

    def _send(self, **_: Any) -> None:
        self.attempts += 1

    def _batch(self, params: dict[str, Any], **_: Any) -> None:
        self.items_written += sum(len(v) for v in params.get("RequestItems", {}).values())

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()
        self.attempts = self.items_written = 0
        self.sequence.clear()


def _code_clients() -> dict[str, Any]:
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.kernel.objects import s3_client, sqs_client

    return {"dynamodb": client(), "s3": s3_client(), "sqs": sqs_client()}


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

    admin, _ = _callers()
    sqs = backend_client("sqs", os.environ["AWS_ENDPOINT_URL"])  # the harness's: not counted
    calls.reset()
    started = time.perf_counter()
    reply = call(
        "api_create_batch", admin, path={"series_id": SERIES}, body={"batch_id": batch_id, "count": cards}
    )
    api_wall = time.perf_counter() - started
    created = _ok(reply, 202, "create batch")
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

    admin, _ = _callers()
    _setup_series(admin)
    svc = instrument_services()
    calls = Calls(_code_clients())
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
    body = _code_clients()["s3"].get_object(Bucket=BUCKET, Key=batch.export_key)["Body"].read()
    rows = list(csv.reader(io.StringIO(body.decode())))
    if len(rows) != cards + 1 or {row[0] for row in rows[1:]} != set(numbers):
        raise RuntimeError("the export does not list the batch's numbers")
    return {
        "cards": cards,
        "generation_s": generation_s,
        "generation_cpu_s": generation_cpu_s,
        "issue": issued,
        "raw": raws,
        "item_bytes": _item_bytes(_raw_items(series, stand_in, GROUP, numbers[:1])[0]),
    }


def _item_bytes(values: dict[str, Any]) -> int:
    from bench.imports import item_size
    from loyalty_engine.kernel.dynamo import to_item

    return item_size(to_item(values))


# --- point of sale -----------------------------------------------------------------------


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return round(values[0], 2) if values else 0.0
    return round(statistics.quantiles(values, n=100)[q - 1], 2)


def do_pos(operations: int) -> dict[str, Any]:
    from loyalty_engine.instruments.batches import all_numbers
    from loyalty_engine.instruments.context import instrument_services
    from loyalty_engine.instruments.series_store import SeriesStore
    from tests.support.api import call

    admin, pos = _callers()
    _setup_series(admin)
    count = 2 * operations + 2
    _ok(
        call("api_create_batch", admin, body={"batch_id": "pos", "count": count}),
        201,
        "a batch for the point of sale",
    )
    store: SeriesStore = instrument_services().series
    series, batch = store.series(GROUP, SERIES), store.batch(GROUP, SERIES, "pos")
    assert series is not None and batch is not None
    numbers = all_numbers(series, batch)
    cards, spare, single, warm = numbers[:operations], numbers[operations:-2], numbers[-2], numbers[-1]
    calls = Calls(_code_clients())

    def redemption(rid: str, amount: str = "12.50") -> dict[str, Any]:
        return {"redemption_id": rid, "amount": amount, "currency": "EUR"}

    # (name, event, path, body, expected status) per call: every kind once to warm up, then measured
    def plan(prefix: str, targets: list[str]) -> dict[str, list[tuple[str, dict[str, str], Any, int]]]:
        return {
            "activation": [
                (
                    "api_activate_gift_card",
                    {"number": n},
                    {"activation_id": f"{prefix}A{i}", "value": "100.00"},
                    201,
                )
                for i, n in enumerate(targets)
            ],
            "lookup": [("api_lookup_instrument", {"number": n}, ..., 200) for n in targets],
            "redemption": [
                ("api_redeem_instrument", {"number": n}, redemption(f"{prefix}R{i}"), 201)
                for i, n in enumerate(targets)
            ],
            "redemption replay": [
                ("api_redeem_instrument", {"number": n}, redemption(f"{prefix}R{i}"), 201)
                for i, n in enumerate(targets)
            ],
            "redemption refused (insufficient balance)": [
                ("api_redeem_instrument", {"number": n}, redemption(f"{prefix}X{i}", "999.00"), 409)
                for i, n in enumerate(targets)
            ],
            "reversal": [
                (
                    "api_reverse_redemption",
                    {"number": n, "redemption_id": f"{prefix}R{i}"},
                    {"reversal_id": f"{prefix}V{i}", "amount": "12.50"},
                    201,
                )
                for i, n in enumerate(targets)
            ],
            "store credit issue": [
                (
                    "api_issue_store_credit",
                    {"series_id": CREDIT_SERIES},
                    {"return_id": f"{prefix}RET-{i}", "amount": "19.90", "currency": "EUR"},
                    201,
                )
                for i in range(len(targets))
            ],
        }

    measured: dict[str, dict[str, Any]] = {}

    def run(name: str, steps: list[tuple[str, dict[str, str], Any, int]], keep: bool) -> None:
        latencies: list[float] = []
        trips: list[int] = []
        shapes: Counter[str] = Counter()
        attempts: list[int] = []
        for event, path, body, status in steps:
            calls.reset()
            began = time.perf_counter()
            reply = call(event, pos, path=path, body=body)
            latencies.append((time.perf_counter() - began) * 1000)
            _ok(reply, status, f"{name} {path}")
            trips.append(sum(n for op, n in calls.calls.items() if op.startswith("dynamodb.")))
            attempts.append(calls.attempts)
            shapes[
                " + ".join(op.split(".", 1)[1] for op in calls.sequence if op.startswith("dynamodb."))
            ] += 1
        if keep:
            measured[name] = {
                "operations": len(steps),
                "round_trips_mean": round(statistics.fmean(trips), 3),
                "round_trips_max": max(trips),
                "http_attempts_mean": round(statistics.fmean(attempts), 3),
                "calls": dict(shapes.most_common()),
                "p50_ms": _percentile(latencies, 50),
                "p95_ms": _percentile(latencies, 95),
            }

    for name, steps in plan("warm-", [warm]).items():  # a warm container: one call of each
        run(name, steps, keep=False)
    for name, steps in plan("", cards).items():
        run(name, steps, keep=True)
    # one card, redemption after redemption (its partition grows with every entry and record)
    run("activation", plan("single-", [single])["activation"], keep=False)
    same = [
        ("api_redeem_instrument", {"number": single}, redemption(f"single-R{i}", "0.25"), 201)
        for i in range(operations)
    ]
    run("redemption, same card one after the other", same, keep=True)
    final = _ok(call("api_lookup_instrument", pos, path={"number": single}), 200, "lookup")
    expected = f"{100 - 0.25 * operations:.2f}"
    if final["balance"] != expected:
        raise RuntimeError(f"balance {final['balance']} after {operations} redemptions, expected {expected}")
    return {
        "operations": operations,
        "cards_in_table": count,
        "unused_cards": len(spare),
        "measured": measured,
    }


# --- figures -----------------------------------------------------------------------------


def _by_service(calls: dict[str, int], service: str) -> dict[str, int]:
    prefix = f"{service}."
    return {k[len(prefix) :]: n for k, n in sorted(calls.items()) if k.startswith(prefix)}


def project(issue: dict[str, Any], cards: int) -> dict[str, Any]:
    """PROJECTION["cards"] cards on AWS: the run's requests and CPU time scaled linearly."""
    from loyalty_engine.instruments.series_use_cases import MARGIN_MS
    from loyalty_engine.wiring import BATCH_ISSUER

    scale = PROJECTION["cards"] / cards
    latency = PROJECTION["dynamodb_ms"]
    dynamodb = _by_service(issue["calls"], "dynamodb")
    dynamodb_s = (
        sum(n * latency.get(op, PROJECTION["dynamodb_other_ms"]) for op, n in dynamodb.items()) * scale / 1000
    )
    s3 = _by_service(issue["calls"], "s3")
    s3_s = sum(s3.values()) * PROJECTION["s3_request_ms"] / 1000 + issue["export_bytes"] * scale / (
        PROJECTION["s3_put_mb_s"] * 1e6
    )
    vcpu = min(1.0, BATCH_ISSUER.memory_mb / PROJECTION["full_vcpu_mb"])
    cpu_s = issue["cpu_s"] * scale / vcpu
    total = dynamodb_s + s3_s + cpu_s
    usable = BATCH_ISSUER.timeout_s - MARGIN_MS / 1000
    return {
        "cards": PROJECTION["cards"],
        "issuer_memory_mb": BATCH_ISSUER.memory_mb,
        "issuer_timeout_s": BATCH_ISSUER.timeout_s,
        "vcpu_share": round(vcpu, 2),
        "dynamodb_s": round(dynamodb_s, 1),
        "s3_s": round(s3_s, 1),
        "cpu_s": round(cpu_s, 1),
        "total_s": round(total, 1),
        "cards_per_s": round(PROJECTION["cards"] / total),
        "invocations": math.ceil(total / usable),
        "wcu_per_s": round(PROJECTION["cards"] / total),  # items under 1 KB, no index copy
    }


def figures(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "goal_round_trips_per_redemption": GOAL_ROUND_TRIPS,
        "projection_assumptions": PROJECTION,
    }
    if "issue" in results:
        r = results["issue"]
        cards, issue = r["cards"], r["issue"]
        dynamodb = _by_service(issue["calls"], "dynamodb")
        raw_rates = [raw["items_per_s"] for raw in r["raw"]]
        raw_mean = statistics.fmean(raw_rates)
        raw_cpu_ms = statistics.fmean(1000 * raw["cpu_s"] / raw["items"] for raw in r["raw"])
        raw_server_ms = statistics.fmean(1000 * raw["server_cpu_s"] / raw["items"] for raw in r["raw"])
        s3_put_s = issue["call_seconds"].get("s3.PutObject", 0.0)
        export_s = issue["export_csv_s"] + s3_put_s
        requests = sum(dynamodb.values())
        out["issue"] = {
            "cards": cards,
            "invocations": issue["invocations"],
            "wall_s": round(issue["wall_s"], 1),
            "cpu_s": round(issue["cpu_s"], 1),
            "cards_per_s": round(cards / issue["wall_s"]),
            "raw_batch_writer": [
                {
                    "items": raw["items"],
                    "wall_s": round(raw["wall_s"], 1),
                    "items_per_s": round(raw["items_per_s"]),
                    "requests": sum(raw["calls"].values()),
                    "cpu_ms_per_item": round(1000 * raw["cpu_s"] / raw["items"], 3),
                    "server_cpu_ms_per_item": round(1000 * raw["server_cpu_s"] / raw["items"], 3),
                }
                for raw in r["raw"]
            ],
            "raw_items_per_s": round(raw_mean),
            "ratio_to_raw": round(cards / issue["wall_s"] / raw_mean, 2),
            "cpu_ms_per_card": round(1000 * issue["cpu_s"] / cards, 3),
            "server_cpu_ms_per_card": round(1000 * issue["server_cpu_s"] / cards, 3),
            "raw_cpu_ms_per_item": round(raw_cpu_ms, 3),
            "raw_server_cpu_ms_per_item": round(raw_server_ms, 3),
            # what the ratio would be if CPU time alone counted (steadier than wall time on a
            # busy machine): raw (client + server) CPU per item / the batch's per card
            "cpu_ratio_to_raw": round(
                (raw_cpu_ms + raw_server_ms) / (1000 * (issue["cpu_s"] + issue["server_cpu_s"]) / cards), 2
            )
            if issue["server_cpu_s"]
            else None,
            "dynamodb_requests": requests,
            "dynamodb_requests_per_card": round(requests / cards, 4),
            "dynamodb_by_operation": dynamodb,
            "dynamodb_per_card_by_operation": {op: round(n / cards, 5) for op, n in dynamodb.items()},
            "dynamodb_http_attempts": issue["attempts"],
            "s3_by_operation": _by_service(issue["calls"], "s3"),
            "sqs_by_operation": _by_service(issue["calls"], "sqs"),
            "seconds_in_calls_by_operation": issue["call_seconds"],
            "seconds_outside_calls": round(issue["wall_s"] - sum(issue["call_seconds"].values()), 1),
            "create_api": {
                "status": issue["api_status"],
                "wall_ms": round(issue["api_wall_s"] * 1000, 1),
                "calls": issue["api_calls"],
            },
            "export": {
                "csv_s": round(issue["export_csv_s"], 2),
                "csv_cpu_s": round(issue["export_csv_cpu_s"], 2),
                "s3_put_s": round(s3_put_s, 2),
                "total_s": round(export_s, 2),
                "cards_per_s": round(cards / export_s) if export_s else None,
                "mb": round(issue["export_bytes"] / 1e6, 2),
            },
            "generation": {
                "s": round(r["generation_s"], 2),
                "cpu_s": round(r["generation_cpu_s"], 2),
                "cards_per_s": round(cards / r["generation_s"]),
                "cards_per_cpu_s": round(cards / r["generation_cpu_s"]),
            },
            "item_bytes": r["item_bytes"],
            "projection_on_aws": project(issue, cards),
        }
    if "pos" in results:
        out["pos"] = results["pos"]
    return out


def table(result: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    lines: list[str] = []
    issue = result.get("issue")
    if issue:
        raws = ", ".join(f"{raw['items_per_s']:,} ({raw['wall_s']} s)" for raw in issue["raw_batch_writer"])
        per_card = ", ".join(f"{op} {n:g}" for op, n in issue["dynamodb_per_card_by_operation"].items())
        spent = sorted(issue["seconds_in_calls_by_operation"].items(), key=lambda kv: -kv[1])
        counts = {f"dynamodb.{op}": n for op, n in issue["dynamodb_by_operation"].items()}
        counts |= {f"s3.{op}": n for op, n in issue["s3_by_operation"].items()}
        counts |= {f"sqs.{op}": n for op, n in issue["sqs_by_operation"].items()}
        timed = ", ".join(
            f"{op.split('.', 1)[1]} {t:g} ({1000 * t / counts[op]:.1f} ms)"
            for op, t in spent
            if t >= 0.05 and counts.get(op)
        )
        export, generation = issue["export"], issue["generation"]
        lines += [
            "",
            "## Issuing gift cards on moto (server in its own process): the API, then the BatchIssuer",
            "",
            "| cards | invocations | wall s | cards/s | raw batch_writer items/s | ratio | DDB req/card | "
            "export s (CSV + PutObject) | number generation cards/s (per CPU s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {issue['cards']:,} | {issue['invocations']} | {issue['wall_s']} | {issue['cards_per_s']:,} | "
            f"{issue['raw_items_per_s']:,} | {issue['ratio_to_raw']} | {issue['dynamodb_requests_per_card']} | "
            f"{export['total_s']} ({export['csv_s']} + {export['s3_put_s']}; {export['cards_per_s']:,} cards/s) | "
            f"{generation['cards_per_s']:,} ({generation['cards_per_cpu_s']:,}) |",
            "",
            "| per card (raw: per item) | wall ms | client CPU ms | moto server CPU ms |",
            "|---|---:|---:|---:|",
            f"| BatchIssuer | {1000 / issue['cards_per_s']:.3f} | {issue['cpu_ms_per_card']} | "
            f"{issue['server_cpu_ms_per_card']} |",
            f"| raw batch_writer (mean of {len(issue['raw_batch_writer'])}) | {1000 / issue['raw_items_per_s']:.3f} | "
            f"{issue['raw_cpu_ms_per_item']} | {issue['raw_server_cpu_ms_per_item']} |",
            "",
            f"The export's CSV took {export['csv_cpu_s']} s of CPU (the numbers regenerated, then written). "
            f"CPU ratio (raw client + server CPU per item / the BatchIssuer's per card; steadier than the wall-time "
            f"ratio on a busy machine): {issue['cpu_ratio_to_raw']}. "
            f"DynamoDB requests per card: {per_card} ({issue['dynamodb_requests']:,} in all, "
            f"{issue['dynamodb_http_attempts']:,} HTTP attempts); S3: "
            f"{', '.join(f'{op} {n}' for op, n in issue['s3_by_operation'].items()) or '-'}; SQS: "
            f"{', '.join(f'{op} {n}' for op, n in issue['sqs_by_operation'].items()) or '-'}. "
            f"In calls (mean per call): {timed}; outside calls: {issue['seconds_outside_calls']} s. "
            f"Raw batch_writer (items/s), before and after the batch: {raws}; an instrument item is "
            f"{issue['item_bytes']} bytes. The API call that created the batch: {issue['create_api']['status']}, "
            f"{issue['create_api']['wall_ms']} ms, {', '.join(f'{op} {n}' for op, n in issue['create_api']['calls'].items())}.",
        ]
        p = issue["projection_on_aws"]
        ms = ", ".join(f"{op} {v:g} ms" for op, v in PROJECTION["dynamodb_ms"].items())
        lines += [
            "",
            f"Projection of {p['cards']:,} cards on AWS, scaled from this run: DynamoDB {p['dynamodb_s']} s + S3 "
            f"{p['s3_s']} s + CPU {p['cpu_s']} s = {p['total_s']} s ({p['cards_per_s']:,} cards/s, about "
            f"{p['wcu_per_s']:,} WCU/s), {p['invocations']} invocation(s) of the BatchIssuer "
            f"({p['issuer_memory_mb']} MB, {p['issuer_timeout_s']} s). Assumptions: p50 latencies {ms}; "
            f"calls one after the other; CPU time divided by the issuer's vCPU share ({p['vcpu_share']}).",
        ]
    pos = result.get("pos")
    if pos:
        goal = result["goal_round_trips_per_redemption"]
        lines += [
            "",
            "## Point of sale on moto (server in its own process), through the instrument API handler",
            "",
            f"| operation | calls | DDB round trips (redemptions <= {goal}) | max | DynamoDB calls | p50 ms | p95 ms |",
            "|---|---:|---:|---:|---|---:|---:|",
        ]
        for name, m in pos["measured"].items():
            trips = f"{m['round_trips_mean']:g}"
            if name.startswith("redemption"):
                trips += f" {mark(m['round_trips_max'] <= goal)}"
            shapes = "; ".join(
                f"{shape or 'none'}" + (f" (x{n})" if len(m["calls"]) > 1 else "")
                for shape, n in m["calls"].items()
            )
            lines.append(
                f"| {name} | {m['operations']:,} | {trips} | {m['round_trips_max']} | {shapes} | {m['p50_ms']} | {m['p95_ms']} |"
            )
    return "\n".join(lines)


def goals_met(result: dict[str, Any]) -> bool:
    measured = result.get("pos", {}).get("measured", {})
    return all(
        m["round_trips_max"] <= GOAL_ROUND_TRIPS
        for name, m in measured.items()
        if name.startswith("redemption")
    )


def run_all(cards: int | None = None, operations: int | None = None) -> dict[str, Any]:
    """Both parts; prints the tables, writes .bench/instruments.json, returns the figures."""
    started = time.perf_counter()
    cards = default_cards() if cards is None else cards
    operations = default_pos_operations() if operations is None else operations
    result = figures(run_children(cards, operations))
    result["bench_wall_s"] = round(time.perf_counter() - started)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(
        f"\n(instrument benchmarks: {result['bench_wall_s']} s; figures in {OUT.relative_to(ROOT)})",
        flush=True,
    )
    return result


def profile(cards: int, top: int) -> None:
    """cProfile of the BatchIssuer's run in its child process: cumulative, then own time."""
    path = WORK / f"issue-{cards}.prof"
    WORK.mkdir(parents=True, exist_ok=True)
    issue = run_children(cards, 0, profile=path)["issue"]["issue"]
    print(f"{cards:,} cards: {issue['wall_s']:.1f} s wall, {issue['cpu_s']:.1f} s CPU (profiled)\n")
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "mode", nargs="?", default="all", choices=["all", "profile", "issue", "pos", "backend"]
    )
    parser.add_argument(
        "--cards", type=int, help=f"gift cards to issue (default BENCH_INSTRUMENT_CARDS, else {CARDS})"
    )
    parser.add_argument(
        "--operations",
        type=int,
        help=f"calls per POS operation (default BENCH_INSTRUMENT_POS, else {POS_OPERATIONS})",
    )
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", dest="profile_path")
    args = parser.parse_args(argv)
    if args.mode == "all":
        return 0 if goals_met(run_all(args.cards, args.operations)) else 1
    if args.mode == "profile":
        profile(args.cards or default_cards(), args.top)
        return 0
    if args.mode == "backend":
        serve()
        return 0
    with contextlib.redirect_stdout(io.StringIO()):  # the handlers' EMF metrics lines
        result = do_issue(args.cards, args.profile_path) if args.mode == "issue" else do_pos(args.operations)
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
