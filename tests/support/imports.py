"""Drive the real import handler: upload a file to the (moto) bucket, deliver its notification."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3

from loyalty_engine.handlers import imports
from tests.support.api import LambdaContext, load_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
BUCKET = "loyalty-imports-test"


class ImportContext(LambdaContext):
    function_name = "Importer"

    def __init__(self, remaining_ms: int = 900_000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self.remaining_ms


class Countdown(ImportContext):
    """A Lambda context whose time runs out after `calls` questions about it."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        self.calls -= 1
        return 900_000 if self.calls >= 0 else 1_000


def create_import_resources() -> tuple[Any, Any]:
    """The import bucket and queue in the active moto, named in the handler's environment."""
    region = os.environ["AWS_DEFAULT_REGION"]
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    sqs = boto3.client("sqs", region_name=region)
    url = sqs.create_queue(QueueName="loyalty-imports-test")["QueueUrl"]
    os.environ["IMPORT_BUCKET"] = BUCKET
    os.environ["IMPORT_QUEUE_URL"] = url
    os.environ["IMPORT_QUIET_PERIOD_S"] = "0"  # drain at once (test_imports_quiet_period sets its own)
    return s3, sqs


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    template = load_event("sqs_s3_object_created")["Records"][0]
    records = []
    for body in bodies:
        record = dict(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(body)
        records.append(record)
    return {"Records": records}


def notification(key: str, size: int = 0, etag: str = "") -> dict[str, Any]:
    body = json.loads(load_event("sqs_s3_object_created")["Records"][0]["body"])
    obj = body["Records"][0]["s3"]["object"]
    obj.update({"key": quote_plus(key), "size": size, "eTag": etag})
    body["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    return body


def upload(s3: Any, name: str, content: bytes | str, group: str = "demo") -> str:
    key = f"incoming/{group}/{name}"
    data = content.encode() if isinstance(content, str) else content
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return key


def deliver(*keys: str, remaining_ms: int = 900_000) -> dict[str, Any]:
    """Run the import handler on the notifications of `keys` (one SQS batch)."""
    response: dict[str, Any] = imports.handler(
        sqs_event(*(notification(k) for k in keys)), ImportContext(remaining_ms)
    )
    return response


def report_stems(s3: Any, name: str, group: str = "demo") -> list[str]:
    """The report pairs of a file name (`reports/<group>/<name>/<received>-<import id>`), oldest first."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"reports/{group}/{name}/").get("Contents", [])
    summaries = sorted((k["LastModified"], k["Key"]) for k in listed if k["Key"].endswith(".report.json"))
    return [key.removesuffix(".report.json") for _, key in summaries]


def report(s3: Any, name: str, group: str = "demo", index: int = -1) -> tuple[dict[str, Any], str]:
    """The summary and skipped lines of a file name's newest import (or its `index`-th)."""
    stem = report_stems(s3, name, group)[index]
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{stem}.report.json")["Body"].read())
    skipped = s3.get_object(Bucket=BUCKET, Key=f"{stem}.skipped.csv")["Body"].read().decode()
    return summary, skipped


def skipped_codes(skipped_csv: str) -> dict[int, str]:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(skipped_csv), delimiter=";"))
    return {int(row[0]): row[1] for row in rows[1:]}
