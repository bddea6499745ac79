"""The job benchmarks' (`bench/jobs.py`) sizes, tables, scheduled times and projection
assumptions, shared by the parent, its children and the figures."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from bench.aws_model import FULL_VCPU_MB
from bench.processes import ROOT

OUT = ROOT / ".bench" / "jobs.json"
WORK = ROOT / ".bench" / "jobs"
GROUP = "demo"
PROGRAM = "club"
GOAL_REQUESTS_PER_MEMBER = 1.2
SEED_CHUNK = 5_000  # members built and written at a time while seeding

JOBS: dict[str, dict[str, Any]] = {
    "tier-upgrade": {"table": "loyalty-bench-tiers", "env": "BENCH_JOB_MEMBERS", "members": 20_000},
    "reconcile": {"table": "loyalty-bench-reconcile", "env": "BENCH_JOB_RECONCILE", "members": 5_000},
    "expire-points": {"table": "loyalty-bench-expire", "env": "BENCH_JOB_EXPIRE", "members": 500},
}

# Scheduled times: an upgrade occurrence (03:00 GMT+1), the next day's, and an expiry run
# (00:00 GMT+1) after the lots earned on EARNED expired.
UPGRADE_AT = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)
RECONCILE_AT = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)
EXPIRE_AT = datetime(2027, 6, 1, 22, 0, tzinfo=UTC)
EARNED = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # lots valid one year
EARNED_LATER = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SUBSCRIBED = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)

# The projection's assumptions: p50 latencies in-region, calls one after the other as the
# shard worker makes them; a gsi1 page is 500 member items of about 1 KB (a 500 KB answer).
PROJECTION: dict[str, Any] = {
    "dynamodb_ms": {
        "Query": 100.0,  # a 500-item gsi1 page (about 600 KB); a member's ledger (reconcile) is a few items
        "PutItem": 5.0,
        "BatchWriteItem": 10.0,
        "BatchGetItem": 5.0,
        "GetItem": 3.0,
        "TransactWriteItems": 10.0,
    },
    "dynamodb_other_ms": 5.0,
    "full_vcpu_mb": FULL_VCPU_MB,
    "members": 10_000_000,
}


def default_size(job: str) -> int:
    spec = JOBS[job]
    return int(os.environ.get(spec["env"]) or spec["members"])


def card(n: int) -> str:
    return f"BENCH-{n:07d}"


def program_body() -> dict[str, Any]:
    """The sample program (events/api_put_program.json): Blue 0/0, Silver 500/400, Gold 2000/1500."""
    event = json.loads((ROOT / "events" / "api_put_program.json").read_text())
    return dict(json.loads(event["body"]))
