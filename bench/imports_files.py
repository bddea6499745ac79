"""The import benchmarks' (`bench/imports.py`) sizes, names, goals and projection assumptions,
and the files they import (masterreward and earnreward content, the one-reward catalog)."""

from __future__ import annotations

import os
from typing import Any

from bench.aws_model import FULL_VCPU_MB
from bench.processes import (
    ROOT,
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
