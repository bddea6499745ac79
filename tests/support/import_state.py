"""What an import leaves behind, read straight from the table and the bucket, for comparisons.

`snapshot()` gathers the reward catalog, the stock counters, the loaded codes, the
attributions, the members (with their enrolment records, tier history and import line
outcomes), and every import job with its counts and skipped lines, in a form that compares
with `==` across two worlds that were fed the same files (the same keys and contents give the
same job ids). Generated codes are random: an attribution's are shown by their shape only.
"""

from __future__ import annotations

import os
import re
from typing import Any

from loyalty_engine.kernel.dynamo import client, from_item
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from tests.support.imports import BUCKET
from tests.support.queues import receive_all


def table_items() -> list[dict[str, Any]]:
    dynamodb = client()
    params: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "ConsistentRead": True}
    found: list[dict[str, Any]] = []
    while True:
        response = dynamodb.scan(**params)
        found.extend(from_item(raw) for raw in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return found
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _plain(values: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in (TTL_ATTRIBUTE, *drop)}


GENERATED_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")


def _attribution(values: dict[str, Any]) -> dict[str, Any]:
    plain = _plain(values)
    plain["codes"] = ["<generated>" if GENERATED_CODE.match(c) else c for c in plain.get("codes", [])]
    return plain


def snapshot(group: str = "demo") -> dict[str, Any]:
    """The import-related state of a group."""
    catalog: dict[str, Any] = {}
    stock: dict[str, Any] = {}
    attributions: dict[str, Any] = {}
    jobs: dict[str, Any] = {}
    skipped: dict[str, dict[int, str]] = {}
    reserved: dict[str, set[str]] = {}
    members: dict[str, Any] = {}  # members, their enrolment and tier history, import line outcomes
    codes: dict[str, Any] = {}
    for values in table_items():
        pk, sk, kind = values[PARTITION_KEY], values[SORT_KEY], values.get("type")
        if not pk.startswith(f"G#{group}#"):
            continue
        if kind == "reward":
            catalog[values["external_id"]] = _plain(values)
        elif kind == "reward_stock":
            stock[sk] = _plain(values)
        elif kind == "attribution":
            attributions[values["attribution_id"]] = _attribution(values)
        elif kind in ("reward_code", "reward_code_seq"):
            codes[f"{pk} {sk}"] = _plain(values)
        elif kind == "import_job":
            jobs[values["file_name"]] = {
                "import_id": values["import_id"],
                "state": values["state"],
                "progress": values["progress"],
                "rejection": (values.get("rejection") or {}).get("code"),
                "chunk": values["chunk"],
            }
        elif kind == "import_skipped_line":
            skipped.setdefault(pk, {})[int(values["line"])] = values["code"]
        elif kind in ("member", "enrolment", "tier_change", "import_line"):
            members[f"{pk} {sk}"] = _plain(values)
        elif kind == "import_reserved_reward":
            reserved.setdefault(pk, set()).add(values["external_id"])
    for job in jobs.values():
        job["skipped_lines"] = skipped.get(f"G#{group}#IMPORT#{job['import_id']}", {})
        job["reserved_rewards"] = sorted(reserved.get(f"G#{group}#IMPORT#{job['import_id']}", set()))
    return {
        "catalog": catalog,
        "stock": stock,
        "codes": codes,
        "attributions": attributions,
        "jobs": jobs,
        "members": members,
    }


def bucket_keys(s3: Any, prefix: str = "") -> list[str]:
    keys: list[str] = []
    params: dict[str, Any] = {"Bucket": BUCKET, "Prefix": prefix}
    while True:
        response = s3.list_objects_v2(**params)
        keys.extend(entry["Key"] for entry in response.get("Contents", []))
        if not response.get("IsTruncated"):
            return sorted(keys)
        params["ContinuationToken"] = response["NextContinuationToken"]


def queued_messages(sqs: Any) -> list[dict[str, Any]]:
    """Receive (and delete) every message waiting on the import queue."""
    return receive_all(sqs, os.environ["IMPORT_QUEUE_URL"])
