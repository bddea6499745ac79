"""The instruments demo's batches: a large batch of gift cards issued in the background
(InstrumentApi -> InstrumentBatches queue -> BatchIssuer -> CSV export in the Exports bucket),
polled until it is completed, and the CSV exports read back from the local S3.
"""

from __future__ import annotations

import csv
import io
import time
from typing import TYPE_CHECKING, Any, TextIO

from local_stack.demo_client import GROUP, DemoClient, Step, field
from loyalty_engine.wiring import BATCH_ISSUER, BATCH_QUEUE, EXPORT_BUCKET

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

POLL_INTERVAL_S = 0.25
BATCH_TIMEOUT_S = 120.0


def export_rows(stack: LocalStack, uri: str) -> list[dict[str, str]]:
    """The rows of a batch's CSV export (`s3://bucket/key`)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def background_batch(
    c: DemoClient, stack: LocalStack, out: TextIO, series_id: str, batch_id: str, count: int
) -> list[str]:
    """Order a large batch (202), poll it until it is completed, show its export; its numbers."""
    out.write(
        f"\n  The Christmas stock: {count:,} gift cards in the background "
        f"(API -> {BATCH_QUEUE.name} queue -> {BATCH_ISSUER.name} -> {EXPORT_BUCKET.name} bucket)\n"
    )
    batches = f"/v1/series/{series_id}/batches"
    c.call(
        f"order {count:,} gift cards: accepted, issued in the background",
        "POST",
        batches,
        body={"batch_id": batch_id, "count": count},
        expect=202,
        checks=(field("status", "pending"), field("export", None)),
    )
    out.write(
        "    polling the batch (on AWS `issued` grows by 1,000 per checkpoint; the local stack runs one\n"
        "    function at a time, so a poll made while the issuer works is answered when it is done)\n"
    )
    batch = _poll_batch(c, out, f"{batches}/{batch_id}", count)
    if batch.get("status") != "completed" or not batch.get("export"):
        return []
    uri = str(batch["export"])
    rows = export_rows(stack, uri)
    numbers = [row["number"] for row in rows]
    bucket = uri.removeprefix("s3://").partition("/")[0]
    out.write(f"    export: {uri}  ({len(rows):,} numbers, one per line)\n")
    out.write(
        "    download: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws "
        f"--endpoint-url {stack.aws_endpoint_url} --region {stack.region} s3 cp {uri} .\n"
    )
    out.write("    (on AWS: the stack output ExportsBucketName; exports expire after 30 days)\n")
    out.write("      number            series  batch\n")
    for row in rows[:3]:
        out.write(f"      {row['number']}  {row['series_id']:<6}  {row['batch_id']}\n")
    out.write("      ...\n")
    if bucket != stack.bucket_name(EXPORT_BUCKET.name) or len(set(numbers)) != count:
        c.result.steps.append(
            Step("the export lists every number once", "GET", uri, count, len(set(numbers)), "it does not")
        )
    return numbers


def _poll_batch(c: DemoClient, out: TextIO, path: str, count: int) -> dict[str, Any]:
    """Poll the batch until it is no longer pending; one line per change seen."""
    started = time.monotonic()
    seen: tuple[Any, ...] | None = None
    batch: dict[str, Any] = {}
    while time.monotonic() - started < BATCH_TIMEOUT_S:
        response = c.session.get(
            c.api_url + path, headers={"Authorization": f"Bearer {c.keys[GROUP]['admin']}"}, timeout=30
        )
        batch = response.json() if response.status_code == 200 else {}
        state = (batch.get("status"), batch.get("issued"))
        if state != seen:
            seen = state
            out.write(
                f"    {time.monotonic() - started:5.1f} s  GET {path}: {batch.get('status')}, "
                f"{batch.get('issued', 0):,}/{count:,} issued ({batch.get('progress', 0.0):.0%})\n"
            )
        if batch.get("status") != "pending":
            break
        time.sleep(POLL_INTERVAL_S)
    c.call(
        "the batch is completed, with its CSV export",
        "GET",
        path,
        expect=200,
        checks=(field("status", "completed"), field("issued", count), field("progress", 1.0)),
    )
    return batch
