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
The children's steps are in `bench/instruments_issue.py` and `bench/instruments_pos.py`, the
figures and tables in `bench/instruments_report.py`, what they share in `bench/instruments_common.py`.
`python bench/instruments.py profile --cards 20000` prints a cProfile of the BatchIssuer's run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.instruments_common import (
    BUCKET,
    CARDS,
    ISSUE_TABLE,
    OUT,
    POS_OPERATIONS,
    POS_TABLE,
    QUEUE,
    WORK,
    default_cards,
    default_pos_operations,
)
from bench.instruments_issue import do_issue
from bench.instruments_pos import do_pos
from bench.instruments_report import figures, goals_met, table
from bench.processes import REGION, ROOT, Backend, backend_client, child_env, run_child
from local_stack.moto_transactions import item_rollback_transactions

# --- the moto backend ----------------------------------------------------------------------


def serve() -> None:
    from bench import jobs_backend

    item_rollback_transactions()
    jobs_backend.serve()


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
