"""Import benchmarks (issue 3), part of `make bench`; also `python bench/imports.py --help`.

For each scope (masterreward, earnreward), against a moto server in a process of its own
(`bench/moto_backend.py`, one per scope), the real importer (`handlers.imports.handler`, an
SQS event of the file's S3 notification) applies a small file, then a large one, each in a
fresh process that does nothing else, and reports:

- wall time and lines/s, and the ratio to a raw boto3 `batch_writer` putting as many items
  of the same shape (a copy of an item the pipeline wrote, keys varied) to the same backend
  in the same process, right after the large import (goal >= 0.7);
- AWS requests per line, by operation, counted with botocore `before-call` hooks on the
  clients the code uses (goal <= 0.06 DynamoDB requests per line), and the time spent in them;
- peak RSS (VmHWM) when the import returns: large minus small (goal <= 16 MB);
- a projection of a 200,000-line file (MAX_DATA_LINES) on DynamoDB and S3 from the large
  run's request counts and CPU time, scaled linearly (assumptions in PROJECTION, printed
  with the figures), against the importer's 900 s.

Sizes: the issue's 20,000 and 200,000 lines take about 21 minutes on 2 cores (moto spends
15-45 ms per batch request), too long for `make bench`, which runs 10,000 and 50,000 lines
(about 6 minutes; per-line figures hardly change with size). The issue's sizes:
`BENCH_IMPORT_SIZES=20000,200000 make bench`, or `python bench/imports.py --sizes 20000 200000`.
`python bench/imports.py profile --scope earnreward --lines 20000` prints a cProfile of one run.

Setup is not measured: the table, bucket (versioned, as deployed) and queue; group `demo`
with program `silver` (manual card codes) through the API handler; for earnreward, one
limited reward (1,000,000 units) imported through the importer and 20,000 member items
written directly (`member_store.member_item`, BatchWriteItem). Earn lines cycle over those
members: a chunk (at most 20,000 lines) names distinct cards, so it reads as many member
keys as with one member per line.

Figures are printed as tables and written to `.bench/imports.json`.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.aws_model import FULL_VCPU_MB, item_size
from bench.processes import (
    REGION,
    ROOT,
    Backend,
    backend_client,
    child_env,
    peak_rss_mb,
    run_child,
)

OUT = ROOT / ".bench" / "imports.json"
WORK = ROOT / ".bench" / "imports"
TABLE = "loyalty-bench-imports"
BUCKET = "loyalty-bench-imports"
QUEUE = "loyalty-bench-imports"
GROUP = "demo"
PROGRAM = "silver"
REWARD = "bench-reward"
MEMBERS = 20_000
SIZES = (10_000, 50_000)  # what fits in `make bench`; the issue's: BENCH_IMPORT_SIZES=20000,200000
SCOPES = ("masterreward", "earnreward")
GOALS = {"ratio_to_raw": 0.7, "dynamodb_requests_per_line": 0.06, "rss_delta_mb": 16.0}

# The projection's assumptions: p50 latencies in-region, calls made one after the other as
# the code makes them (no overlap), S3 streamed at a steady rate, and the CPU time measured
# here scaled to the importer's share of a vCPU (Lambda gives a full vCPU at 1,769 MB).
PROJECTION: dict[str, Any] = {
    "dynamodb_ms": {
        "BatchWriteItem": 10.0,
        "BatchGetItem": 5.0,
        "TransactWriteItems": 10.0,
        "UpdateItem": 5.0,
        "PutItem": 5.0,
        "DeleteItem": 5.0,
        "GetItem": 3.0,
        "Query": 5.0,
    },
    "dynamodb_other_ms": 5.0,
    "s3_request_ms": 20.0,  # first byte of a GetObject, and every other S3 call
    "s3_stream_mb_s": 50.0,  # GetObject body, each pass reads the whole file
    "full_vcpu_mb": FULL_VCPU_MB,
}

MASTER_HEADER = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;description\n"
)
EARN_HEADER = "reward_id;card_code;attribution_id;quantity;context;validity_start_date;validity_end_date\n"


def card(n: int) -> str:
    return f"BENCH-{n:06d}"


def file_name(scope: str, index: int) -> str:
    """Each file of a run its own day: 0 is the earn runs' catalog."""
    return f"{GROUP}_{scope}_{PROGRAM}_202601{index + 1:02d}.csv"


def default_sizes() -> tuple[int, ...]:
    text = os.environ.get("BENCH_IMPORT_SIZES", "")
    return tuple(sorted(int(n) for n in text.split(","))) if text.strip() else SIZES


def file_content(scope: str, lines: int) -> bytes:
    """Distinct external ids (masterreward) and attribution ids (earnreward) in every file."""
    if scope == "masterreward":
        rows = (
            f"m{lines}-{n:06d};Bench reward {n};0;{n % 500};0;1;month;0;1;1000;Reward {n} of the benchmark\n"
            for n in range(lines)
        )
        return (MASTER_HEADER + "".join(rows)).encode()
    rows = (
        f"{REWARD};{card(n % MEMBERS)};a{lines}-{n:06d};1;web;2026-01-01 00:00:00;2099-12-31 00:00:00\n"
        for n in range(lines)
    )
    return (EARN_HEADER + "".join(rows)).encode()


CATALOG = MASTER_HEADER + f"{REWARD};Bench reward;0;10;0;1;month;0;1;1000000;One reward, 1,000,000 units\n"


# --- the moto backend and the child processes (parent side) ------------------------------


def prepare(endpoint: str) -> str:
    """Table, bucket (versioned, as deployed) and queue; returns the queue URL."""
    from loyalty_engine.kernel.table import create_table_params, enable_ttl_params

    dynamodb = backend_client("dynamodb", endpoint)
    dynamodb.create_table(**create_table_params(TABLE))
    dynamodb.update_time_to_live(**enable_ttl_params(TABLE))
    s3 = backend_client("s3", endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return str(backend_client("sqs", endpoint).create_queue(QueueName=QUEUE)["QueueUrl"])


def child(mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    return run_child(__file__, WORK / f"{mode}.json", mode, env, *args)


def run_scope(
    scope: str,
    sizes: tuple[int, ...],
    raw_at: int | None,
    profile: Path | None = None,
    aws: str | None = None,
) -> dict[int, dict[str, Any]]:
    runs: dict[int, dict[str, Any]] = {}
    with Backend() as endpoint:
        # No quiet period: the bench measures applying a file, not the wait before it.
        env = child_env(
            endpoint,
            TABLE,
            IMPORT_BUCKET=BUCKET,
            IMPORT_QUEUE_URL=prepare(endpoint),
            IMPORT_QUIET_PERIOD_S="0",
        )
        child("setup", env, "--scope", scope)
        s3 = backend_client("s3", endpoint)
        for index, lines in enumerate(sizes, start=1):
            name = file_name(scope, index)
            content = file_content(scope, lines)
            s3.put_object(Bucket=BUCKET, Key=f"incoming/{GROUP}/{name}", Body=content)
            args = ["--scope", scope, "--lines", str(lines), "--name", name]
            if lines == raw_at:
                args.append("--raw")
            if profile is not None:
                args += ["--profile", str(profile)]
            if aws:  # "latency": injected, frozen while moto serves; "meter": write units (bench/aws_pass.py)
                args += ["--aws", aws]
            runs[lines] = child("measure", env, *args) | {"file_bytes": len(content)}
            del content
    return runs


# --- what the children do ----------------------------------------------------------------


class _Context:
    """The Lambda context the importer reads (never short of time: no continuation)."""

    function_name = "Importer"
    memory_limit_in_mb = 1769
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:Importer"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def _invoke(name: str) -> None:
    """The importer on an SQS batch of one S3 notification of `incoming/demo/<name>`."""
    from loyalty_engine.handlers import imports as importer

    event = json.loads((ROOT / "events" / "sqs_s3_object_created.json").read_text())
    record = event["Records"][0]
    body = json.loads(record["body"])
    s3 = body["Records"][0]["s3"]
    s3["bucket"].update(name=BUCKET, arn=f"arn:aws:s3:::{BUCKET}")
    s3["object"]["key"] = quote_plus(f"incoming/{GROUP}/{name}")
    record["body"] = json.dumps(body)
    response = importer.handler(event, _Context())
    if response.get("batchItemFailures"):
        raise RuntimeError(f"the importer failed on {name}: {response}")


def _summary(name: str) -> dict[str, Any]:
    from loyalty_engine.kernel.objects import s3_client

    listed = s3_client().list_objects_v2(Bucket=BUCKET, Prefix=f"reports/{GROUP}/{name}/").get("Contents", [])
    key = max(k["Key"] for k in listed if k["Key"].endswith(".report.json"))
    return dict(json.loads(s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def _counted(summary: dict[str, Any], lines: int) -> None:
    if summary.get("state") != "completed" or summary.get("applied") != lines:
        raise RuntimeError(f"import not fully applied: {summary}")


def do_setup(scope: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    from loyalty_engine.access.models import GroupSettings, LoyaltyGroup
    from loyalty_engine.imports.context import import_services
    from loyalty_engine.kernel.batch import batch_put
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.points.member_store import member_item
    from loyalty_engine.points.members import Member
    from tests.integration.conftest import ADMIN
    from tests.support.api import call
    from tests.support.import_world import SIMPLE_PROGRAM

    now = datetime.now(UTC)
    import_services().groups.create_group(
        LoyaltyGroup(group_id=GROUP, name="Demo", settings=GroupSettings(), created_at=now)
    )
    reply = call("api_put_program", ADMIN, path={"program_id": PROGRAM}, body=SIMPLE_PROGRAM)
    if reply.status != 201:
        raise RuntimeError(f"program not created: {reply.body}")
    if scope != "earnreward":
        return {}
    name = file_name("masterreward", 0)
    import_services().objects.put_bytes(f"incoming/{GROUP}/{name}", CATALOG.encode(), "text/csv")
    _invoke(name)
    _counted(_summary(name), 1)
    members = [
        member_item(GROUP, Member(card_code=card(n), program_id=PROGRAM, subscribed_at=now, created_at=now))
        for n in range(MEMBERS)
    ]
    return {"member_requests": batch_put(client(), TABLE, members)}


def do_measure(
    scope: str, lines: int, name: str, raw: bool, profile: str | None, aws: str | None = None
) -> dict[str, Any]:
    import loyalty_engine.handlers.imports  # noqa: F401 - imported before the baseline RSS
    from loyalty_engine.imports.context import import_services
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.kernel.objects import s3_client, sqs_client

    import_services()  # a warm container: clients built
    calls: Counter[str] = Counter()
    spent: Counter[str] = Counter()  # seconds in each operation, request to parsed response
    started_call = threading.local()  # the importer's batch requests run on several threads

    def count(model: Any, **_: Any) -> None:
        calls[f"{model.service_model.service_name}.{model.name}"] += 1
        started_call.at = time.perf_counter()

    def done(model: Any, **_: Any) -> None:
        spent[f"{model.service_model.service_name}.{model.name}"] += time.perf_counter() - started_call.at

    def batch_items(params: dict[str, Any], **_: Any) -> None:
        calls["items.batch_written"] += sum(len(v) for v in params.get("RequestItems", {}).values())

    def batch_keys(params: dict[str, Any], **_: Any) -> None:
        calls["items.batch_read"] += sum(len(v["Keys"]) for v in params.get("RequestItems", {}).values())

    def attempt(**_: Any) -> None:
        calls["attempts.dynamodb"] += 1  # HTTP attempts: more than calls if anything was retried

    for service, made in (("dynamodb", client()), ("s3", s3_client()), ("sqs", sqs_client())):
        made.meta.events.register(f"before-call.{service}", count)
        made.meta.events.register(f"after-call.{service}", done)
    client().meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", batch_items)
    client().meta.events.register("before-parameter-build.dynamodb.BatchGetItem", batch_keys)
    client().meta.events.register("before-send.dynamodb", attempt)
    latency, meter, clock = None, None, None
    if aws == "latency":  # the meter's own reads and work would slow the calls it meters: not here
        from bench.aws_hooks import FrozenClock, Latency

        clock = FrozenClock(os.environ["AWS_ENDPOINT_URL"])
        latency = Latency(clock=clock).install(client(), s3_client(), sqs_client())
        _pace_on_aws_time(latency)
    elif aws == "meter":
        from bench.aws_hooks import WriteMeter

        meter = WriteMeter(client())

    rss_before = peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    _invoke(name)
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss_peak = peak_rss_mb()
    counted, seconds = dict(calls), dict(spent)
    attempts, batch_written = counted.pop("attempts.dynamodb", 0), counted.pop("items.batch_written", 0)
    batch_read = counted.pop("items.batch_read", 0)
    if profiler is not None and profile:
        profiler.dump_stats(profile)

    summary = _summary(name)
    _counted(summary, lines)
    result: dict[str, Any] = {
        "scope": scope,
        "lines": lines,
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "calls": counted,
        "call_seconds": {op: round(t, 2) for op, t in sorted(seconds.items())},
        "dynamodb_attempts": attempts,
        "items_batch_written": batch_written,
        "keys_batch_read": batch_read,
        "applied": summary.get("applied"),
        "skipped": summary.get("skipped"),
    }
    if latency is not None:
        result["aws"] = {"latency": latency.figures()}
    if meter is not None:
        result["aws"] = {"meter": meter.figures(wall)}
    if raw:
        result["raw"] = raw_baseline(scope, lines, clock)
    if clock is not None:
        clock.close()
    return result


def raw_baseline(scope: str, lines: int, clock: Any = None) -> dict[str, Any]:
    """`lines` copies of an item the pipeline wrote (keys varied) put by BatchWriteItem with the
    importer's parallelism (`kernel.batch.batch_put`, as many requests in flight), items built
    beforehand; with `clock` (a FrozenClock) the same injected latency as the importer's."""
    import boto3

    from loyalty_engine.imports.context import import_services
    from loyalty_engine.kernel import keys
    from loyalty_engine.kernel.batch import batch_put, key
    from loyalty_engine.kernel.dynamo import client, from_item

    if scope == "masterreward":
        wanted = key(keys.rewards_pk(GROUP), keys.reward_sk(f"m{lines}-{0:06d}"))
    else:
        wanted = key(keys.attribution_pk(GROUP, f"a{lines}-{0:06d}"), keys.ATTRIBUTION_SK)
    stored = client().get_item(TableName=TABLE, Key=wanted, ConsistentRead=True)["Item"]
    template = from_item(stored)

    def item(n: int) -> dict[str, Any]:
        name = f"raw-{n:06d}"
        if scope == "masterreward":
            return template | {
                "pk": keys.rewards_pk("rawbench"),
                "sk": keys.reward_sk(name),
                "external_id": name,
            }
        return template | {
            "pk": keys.attribution_pk("rawbench", name),
            "attribution_id": name,
            "gsi1sk": f"{template['created_at']}#{name}",
        }

    writer = boto3.client("dynamodb", region_name=REGION)
    latency = None
    if clock is not None:  # the same injected latency as the importer's clients
        from bench.aws_hooks import Latency

        latency = Latency(clock=clock).install(writer)
    calls: Counter[str] = Counter()
    writer.meta.events.register("before-call.dynamodb", lambda model, **_: calls.update([model.name]))
    items = [item(n) for n in range(lines)]
    threads = import_services().io_threads
    started, cpu = time.perf_counter(), time.process_time()
    batch_put(writer, TABLE, items, threads=threads)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "items": lines,
        "threads": threads,
        "wall_s": wall,
        "cpu_s": cpu,
        "items_per_s": lines / wall,
        "calls": dict(calls),
        "item_bytes": item_size(stored),
        "item_has_gsi1": "gsi1pk" in stored,
    } | ({"aws": {"latency": latency.figures()}} if latency is not None else {})


# --- figures -----------------------------------------------------------------------------


def _by_service(calls: dict[str, int], service: str) -> dict[str, int]:
    prefix = f"{service}."
    return {k[len(prefix) :]: n for k, n in sorted(calls.items()) if k.startswith(prefix)}


def project(run: dict[str, Any]) -> dict[str, Any]:
    """A MAX_DATA_LINES file's time on AWS: the run's request counts and CPU time, scaled
    linearly to that many lines, at PROJECTION's latencies."""
    from loyalty_engine.imports.files import MAX_DATA_LINES
    from loyalty_engine.wiring import IMPORTER

    scale = MAX_DATA_LINES / run["lines"]
    dynamodb = _by_service(run["calls"], "dynamodb")
    s3 = _by_service(run["calls"], "s3")
    latency = PROJECTION["dynamodb_ms"]
    fixed = {"DeleteItem", "GetItem", "PutItem", "Query"}  # per file, not per line (locks, job, reports)
    dynamodb_s = (
        sum(
            n * (1 if op in fixed else scale) * latency.get(op, PROJECTION["dynamodb_other_ms"])
            for op, n in dynamodb.items()
        )
        / 1000
    )
    s3_requests = sum(s3.values()) + sum(_by_service(run["calls"], "sqs").values())
    stream_s = s3.get("GetObject", 0) * run["file_bytes"] * scale / (PROJECTION["s3_stream_mb_s"] * 1e6)
    s3_s = s3_requests * PROJECTION["s3_request_ms"] / 1000 + stream_s
    vcpu = min(1.0, IMPORTER.memory_mb / PROJECTION["full_vcpu_mb"])
    cpu_s = run["cpu_s"] * scale / vcpu
    total = dynamodb_s + s3_s + cpu_s
    raw = run.get("raw") or {}
    item_kb = math.ceil(raw.get("item_bytes", 1024) / 1024)
    index_copies = 2 if raw.get("item_has_gsi1") else 1
    items_per_s = run["items_batch_written"] * scale / total
    projected: dict[str, Any] = {}
    if raw:
        raw_s = (sum(raw["calls"].values()) * latency["BatchWriteItem"] / 1000 + raw["cpu_s"] / vcpu) * scale
        projected = {
            "raw_batch_writer_s": round(raw_s, 1),
            "ratio_to_raw": round((MAX_DATA_LINES / total) / (raw["items"] * scale / raw_s), 2),
        }
    return {
        "lines": MAX_DATA_LINES,
        "scaled_from_lines": run["lines"],
        "importer_memory_mb": IMPORTER.memory_mb,
        "importer_timeout_s": IMPORTER.timeout_s,
        "vcpu_share": round(vcpu, 2),
        "dynamodb_s": round(dynamodb_s, 1),
        "s3_s": round(s3_s, 1),
        "cpu_s": round(cpu_s, 1),
        "total_s": round(total, 1),
        "share_of_timeout": round(total / IMPORTER.timeout_s, 2),
        "items_per_s": round(items_per_s),
        "item_bytes": raw.get("item_bytes"),
        "write_units_per_item": item_kb * index_copies,
        "wcu_per_s": round(items_per_s * item_kb * index_copies),
        # a consistent read of an item up to 4 KB, found or not: 1 unit
        "rcu_per_s": round(run["keys_batch_read"] * scale / total),
    } | projected


def figures(runs: dict[str, dict[int, dict[str, Any]]], sizes: tuple[int, ...]) -> dict[str, Any]:
    small, large = sizes[0], sizes[-1]
    result: dict[str, Any] = {"goals": GOALS, "projection_assumptions": PROJECTION, "scopes": {}}
    for scope, by_size in runs.items():
        scope_figures: dict[str, Any] = {}
        for lines, run in sorted(by_size.items()):
            dynamodb = _by_service(run["calls"], "dynamodb")
            entry = {
                "wall_s": round(run["wall_s"], 1),
                "cpu_s": round(run["cpu_s"], 1),
                "lines_per_s": round(lines / run["wall_s"]),
                "dynamodb_requests": sum(dynamodb.values()),
                "dynamodb_requests_per_line": round(sum(dynamodb.values()) / lines, 4),
                "dynamodb_http_attempts": run["dynamodb_attempts"],
                "dynamodb_by_operation": dynamodb,
                "items_batch_written": run["items_batch_written"],
                "keys_batch_read": run["keys_batch_read"],
                "seconds_in_calls_by_operation": run["call_seconds"],
                "seconds_outside_calls": round(run["wall_s"] - sum(run["call_seconds"].values()), 1),
                "s3_by_operation": _by_service(run["calls"], "s3"),
                "sqs_by_operation": _by_service(run["calls"], "sqs"),
                "rss_before_mb": round(run["rss_before_mb"], 1),
                "rss_peak_mb": round(run["rss_peak_mb"], 1),
                "file_mb": round(run["file_bytes"] / 1e6, 1),
            }
            if "raw" in run:
                raw = run["raw"]
                entry["raw_batch_writer"] = {
                    "items": raw["items"],
                    "wall_s": round(raw["wall_s"], 1),
                    "items_per_s": round(raw["items_per_s"]),
                    "requests": sum(raw["calls"].values()),
                    "item_bytes": raw["item_bytes"],
                }
                entry["ratio_to_raw"] = round((lines / run["wall_s"]) / raw["items_per_s"], 2)
                entry["projection_on_aws"] = project(run)
            scope_figures[str(lines)] = entry
        if small in by_size and large in by_size and small != large:
            scope_figures["rss_delta_mb"] = round(
                by_size[large]["rss_peak_mb"] - by_size[small]["rss_peak_mb"], 1
            )
        result["scopes"][scope] = scope_figures
    return result


def table(result: dict[str, Any], sizes: tuple[int, ...]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    lines = [
        "",
        "## Imports on moto (server in its own process), through the real importer",
        "",
        "| scope | lines | wall s | lines/s | raw batch_writer items/s | ratio (>= 0.7) | DDB req/line (<= 0.06) "
        "| S3 req | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scope, entries in result["scopes"].items():
        for size in sizes:
            e = entries.get(str(size))
            if e is None:
                continue
            raw = e.get("raw_batch_writer")
            ratio = f"{e['ratio_to_raw']} {mark(e['ratio_to_raw'] >= GOALS['ratio_to_raw'])}" if raw else "-"
            per_line = e["dynamodb_requests_per_line"]
            lines.append(
                f"| {scope} | {size:,} | {e['wall_s']} | {e['lines_per_s']:,} | "
                f"{raw['items_per_s'] if raw else '-'} | {ratio} | "
                f"{per_line} {mark(per_line <= GOALS['dynamodb_requests_per_line'])} | "
                f"{sum(e['s3_by_operation'].values())} | {e['rss_peak_mb']} |"
            )
    lines += ["", "| scope | lines | DynamoDB requests by operation | S3 requests by operation | SQS |"]
    lines.append("|---|---:|---|---|---|")
    for scope, entries in result["scopes"].items():
        for size in sizes:
            e = entries.get(str(size))
            if e is None:
                continue
            ops = ", ".join(f"{op} {n}" for op, n in e["dynamodb_by_operation"].items())
            s3 = ", ".join(f"{op} {n}" for op, n in e["s3_by_operation"].items())
            sqs = ", ".join(f"{op} {n}" for op, n in e["sqs_by_operation"].items()) or "-"
            lines.append(f"| {scope} | {size:,} | {ops} | {s3} | {sqs} |")
    lines += [
        "",
        "Where the wall time goes on moto: seconds in each operation, from botocore's request (already "
        "validated and serialized) to the parsed response (GetObject: to its headers), and outside any "
        "call: our code, botocore validating and serializing requests, and reading GetObject bodies.",
        "",
        "| scope | lines | outside calls s | in calls s, by operation (mean per call) |",
        "|---|---:|---:|---|",
    ]
    for scope, entries in result["scopes"].items():
        for size in sizes:
            e = entries.get(str(size))
            if e is None:
                continue
            spent = sorted(e["seconds_in_calls_by_operation"].items(), key=lambda kv: -kv[1])
            counts = {f"dynamodb.{op}": n for op, n in e["dynamodb_by_operation"].items()}
            counts |= {f"s3.{op}": n for op, n in e["s3_by_operation"].items()}
            ops = ", ".join(
                f"{op.split('.', 1)[1]} {t:g} ({1000 * t / counts[op]:.0f} ms/call)"
                for op, t in spent
                if t >= 0.05 and counts.get(op)
            )
            lines.append(f"| {scope} | {size:,} | {e['seconds_outside_calls']} | {ops} |")
    deltas = [(s, e["rss_delta_mb"]) for s, e in result["scopes"].items() if "rss_delta_mb" in e]
    if deltas:
        lines += [
            "",
            f"| scope | peak RSS {sizes[-1]:,} lines - {sizes[0]:,} lines (<= 16 MB) |",
            "|---|---:|",
        ]
        lines += [f"| {s} | {d} MB {mark(d <= GOALS['rss_delta_mb'])} |" for s, d in deltas]
    projected = [(s, e[str(sizes[-1])]) for s, e in result["scopes"].items() if str(sizes[-1]) in e]
    projected = [(s, e["projection_on_aws"]) for s, e in projected if "projection_on_aws" in e]
    if projected:
        a = PROJECTION
        first = projected[0][1]
        ms = ", ".join(f"{op} {v:g} ms" for op, v in a["dynamodb_ms"].items())
        scaled = (
            f", scaled x{first['lines'] / first['scaled_from_lines']:g} from the {first['scaled_from_lines']:,}-line runs"
            if first["lines"] != first["scaled_from_lines"]
            else ""
        )
        lines += [
            "",
            f"Projection of a {first['lines']:,}-line file on AWS{scaled}. Assumptions: p50 in-region "
            f"latencies {ms} (others {a['dynamodb_other_ms']:g} ms); every S3/SQS call "
            f"{a['s3_request_ms']:g} ms, GetObject bodies streamed at {a['s3_stream_mb_s']:g} MB/s; calls "
            "one after the other, as the code makes them; the CPU time measured here (our code + botocore) "
            f"divided by the importer's vCPU share ({first['importer_memory_mb']} MB / {a['full_vcpu_mb']} MB). "
            "Write units: ceil(item KB) per item, twice with its gsi1 copy; read units: one per key of a "
            "consistent BatchGetItem (items under 4 KB). The raw batch_writer projected the same way.",
            "",
            f"| scope | DynamoDB s | S3 s | CPU s | total s | of {first['importer_timeout_s']} s | items/s "
            "| item bytes | WCU/s | RCU/s | raw batch_writer s | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for scope, p in projected:
            lines.append(
                f"| {scope} | {p['dynamodb_s']} | {p['s3_s']} | {p['cpu_s']} | {p['total_s']} | "
                f"{round(100 * p['share_of_timeout'])}% | {p['items_per_s']:,} | {p['item_bytes']} | "
                f"{p['wcu_per_s']:,} ({p['write_units_per_item']}/item) | {p['rcu_per_s']:,} | "
                f"{p.get('raw_batch_writer_s', '-')} | {p.get('ratio_to_raw', '-')} |"
            )
    return "\n".join(lines)


def run_all(sizes: tuple[int, ...] | None = None, scopes: tuple[str, ...] = SCOPES) -> dict[str, Any]:
    """Every scope and size; prints the tables, writes .bench/imports.json, returns the figures."""
    sizes = sizes or default_sizes()
    started = time.perf_counter()
    runs = {scope: run_scope(scope, sizes, raw_at=sizes[-1]) for scope in scopes}
    result = figures(runs, sizes)
    result["sizes"] = list(sizes)
    result["bench_wall_s"] = round(time.perf_counter() - started)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result, sizes))
    print(f"\n(import benchmarks: {result['bench_wall_s']} s; figures in {OUT.relative_to(ROOT)})")
    return result


def profile(scope: str, lines: int, top: int) -> None:
    """cProfile of one import in its child process: our functions by cumulative time."""
    path = WORK / f"{scope}-{lines}.prof"
    WORK.mkdir(parents=True, exist_ok=True)
    run = run_scope(scope, (lines,), raw_at=None, profile=path)[lines]
    print(f"{scope}, {lines:,} lines: {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU (profiled)\n")
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats("loyalty_engine", top)
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "profile", "setup", "measure"])
    parser.add_argument("--scope", choices=SCOPES, default="earnreward")
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="line counts (default: BENCH_IMPORT_SIZES, else 10000 50000)"
    )
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=30)
    # child processes
    parser.add_argument("--out", type=Path)
    parser.add_argument("--name")
    parser.add_argument("--raw", action="store_true")
    parser.add_argument(
        "--aws", choices=("latency", "meter"), help="injected AWS latency, or metered write units"
    )
    parser.add_argument("--profile", dest="profile_path")
    args = parser.parse_args(argv)
    if args.mode == "all":
        run_all(tuple(sorted(args.sizes)) if args.sizes else None)
    elif args.mode == "profile":
        profile(args.scope, args.lines, args.top)
    else:
        if args.mode == "setup":
            result = do_setup(args.scope)
        else:
            result = do_measure(args.scope, args.lines, args.name, args.raw, args.profile_path, args.aws)
        args.out.write_text(json.dumps(result))
    return 0


def _pace_on_aws_time(latency: Any) -> None:
    """The importer's catalog pacing (loyalty_engine.kernel.pacing) against the time the run would
    take on AWS (aws_hooks.aws_seconds: moto's time taken out, the CPU stretched to the
    function's share), not against the wall clock, which moto's own time slows."""
    from bench.aws_hooks import aws_seconds
    from bench.aws_model import vcpu_share
    from loyalty_engine.kernel import pacing
    from loyalty_engine.wiring import IMPORTER

    vcpu = vcpu_share(IMPORTER.memory_mb)
    wall0, cpu0, taken0 = time.perf_counter(), time.process_time(), latency.taken_out_s

    def aws_now() -> float:
        return aws_seconds(
            time.perf_counter() - wall0, time.process_time() - cpu0, latency.taken_out_s - taken0, 0, vcpu
        )

    pacing.now = aws_now


if __name__ == "__main__":
    raise SystemExit(main())
