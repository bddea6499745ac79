"""What the children of `bench/imports.py` do (`python bench/imports.py setup|measure`): seed the
program, the reward and the members, then import one file through the real importer (or the raw
batch_writer), counting requests and peak RSS."""

from __future__ import annotations

import cProfile
import json
import os
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import quote_plus

from bench.aws_model import item_size
from bench.imports_files import BUCKET, CATALOG, GROUP, MEMBERS, PROGRAM, TABLE, card, file_name
from bench.processes import (
    REGION,
    ROOT,
    peak_rss_mb,
)

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
