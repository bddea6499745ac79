"""Scheduled-job benchmarks (tier runs, reconciliation, points expiry), part of `make bench`;
also `python bench/jobs.py --help`.

Against a moto server in a process of its own (`bench/moto_backend.py`, plus the speed changes
below), each job's table is seeded directly (BatchWriteItem of `member_store.member_item`, as
`bench/imports.py` seeds members; not measured), then a fresh process that does nothing else
runs the job through `tiers.run_use_cases.run_now` (inline: the 16 shards one after the other, as one
shard worker works through its shard) and reports:

- tier-upgrade over BENCH_JOB_MEMBERS members of a tiered program (the sample program's Blue
  0/0, Silver 500/400, Gold 2000/1500; every member has a Q lot and an NQ lot): 12 % of the
  members reach Silver and 3 % Gold (15 % change tier), 5 % are Silver already and stay, 80 %
  stay Blue. Measured in turns on the same table, in the same process: a raw read, the upgrade
  run, a raw read, a replay of the same run (completed: it answers the first run's summary),
  the next day's run (nobody left to change: the daily steady state), a raw read. The raw read
  is a paginated Query of every gsi1 shard of the program (same page size, same projection:
  the whole item), each item deserialized with the same codec (`kernel.dynamo.from_item`); a
  run's members/s is given as a ratio to the mean of the raw reads next to it.
- reconcile over BENCH_JOB_RECONCILE members (default 5,000) of the same program in a table of
  its own, each with two ledger entries (an earn and a burn) that match its lots.
- expire-points over BENCH_JOB_EXPIRE members (default 500), half of them with lots expired at
  the run's time, in a table of its own: an expiry commits the member with its ledger entry in
  a TransactWriteItems. moto deep-copies the whole table once per item of a transaction (to
  roll back), about 0.2 s per transaction at 500 members, growing with the table; the backend
  rolls back the named items instead (`local_stack/moto_transactions.py`, as the local stack).

Sizes: the issue's 100,000 members take about 15 minutes here (2 cores; moto spends 0.2-0.5 s
on a 500-item page and 7 ms on a PutItem), too long for `make bench`, which runs 20,000 (about
4 minutes for the three jobs; per-member figures hardly change with size). The issue's size:
`BENCH_JOB_MEMBERS=100000 make bench`, or `python bench/jobs.py --job tier-upgrade --members 100000`.

DynamoDB requests are counted with botocore `before-call` hooks on the one client every store
uses (JobStore, MemberStore, GroupStore), so reads of a member that lost a race count too.
Peak RSS is the measuring process's VmHWM. A projection to 10 million members on AWS (16
shard workers of JOB_WORKER's memory and timeout) is computed from the upgrade run's request
counts and CPU time, at the latencies in PROJECTION.

The backend (`python bench/jobs.py backend`) is `bench/moto_backend.py` with two more changes
to moto, for speed only, on reads: its generic response serializer is skipped for read results
that are plain JSON already, and a Query looks only at the queried partition's items instead
of every item of the table (`bench/jobs_backend.py`). Both sides of
a ratio gain alike; a 500-item page went from about 6 s to 0.2 s.

Figures are printed as tables and written to `.bench/jobs.json`. The children's steps are in `bench/jobs_child.py`, the
figures and tables in `bench/jobs_report.py`, the sizes and times they share in `bench/jobs_common.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.jobs_backend import serve
from bench.jobs_child import do_measure, do_setup
from bench.jobs_common import JOBS, OUT, WORK, default_size
from bench.jobs_report import figures, goals_met, run_figures, table
from bench.processes import ROOT, Backend, backend_client, child_env, run_child

BACKEND = (sys.executable, str(Path(__file__).resolve()), "backend")  # `serve` in a process of its own


# --- the parent: child processes, figures ------------------------------------------------


def child(mode: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    out = WORK / f"{mode}-{args[1] if len(args) > 1 else 'all'}.json"
    return run_child(__file__, out, mode, env, *args)


def run_job(endpoint: str, job: str, members: int, aws: bool = False) -> dict[str, Any]:
    """The job over `members` seeded members. With `aws`, twice, on two tables seeded alike:
    once with injected latency (its time), once with the write meter (its units): the meter's
    reads would load moto, which serves one request at a time, and slow the timed run's
    overlapped writes."""
    if not aws:
        return _run_on(endpoint, job, members, JOBS[job]["table"])
    timed = _run_on(endpoint, job, members, JOBS[job]["table"], "latency")
    metered = _run_on(endpoint, job, members, JOBS[job]["table"] + "-units", "meter")
    return timed | {
        "units": metered["run"]["aws"]["meter"],
        "units_run": run_figures(metered["run"], members),
    }


def _run_on(endpoint: str, job: str, members: int, table: str, aws: str | None = None) -> dict[str, Any]:
    from loyalty_engine.kernel.table import create_table_params, enable_ttl_params

    dynamodb = backend_client("dynamodb", endpoint)
    # No stream: nothing here reads it, and moto keeps a record of every write in it (AWS's
    # writes take no longer with a stream).
    dynamodb.create_table(**create_table_params(table, stream=False))
    dynamodb.update_time_to_live(**enable_ttl_params(table))
    env = child_env(endpoint, table, drop=("SCHEDULE", "JOB_", "TABLE_"))
    started = time.perf_counter()
    seeded = child("setup", env, "--job", job, "--members", str(members))
    seeded["wall_s"] = round(time.perf_counter() - started, 1)
    args = ("--job", job, "--members", str(members), *(("--aws", aws) if aws else ()))
    return child("measure", env, *args) | {"setup": seeded}


def run_all(jobs: tuple[str, ...] = tuple(JOBS), sizes: dict[str, int] | None = None) -> dict[str, Any]:
    """Every job; prints the tables, writes .bench/jobs.json, returns the figures."""
    sizes = sizes or {}
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with Backend(BACKEND) as endpoint:
        for job in jobs:
            results[job] = run_job(endpoint, job, sizes.get(job) or default_size(job))
    result = figures(results)
    result["bench_wall_s"] = round(time.perf_counter() - started)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\n(job benchmarks: {result['bench_wall_s']} s; figures in {OUT.relative_to(ROOT)})", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "setup", "measure", "backend"])
    parser.add_argument("--job", choices=list(JOBS), action="append", help="only these jobs (repeatable)")
    parser.add_argument("--members", type=int, help="members of the job's program (child processes)")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--aws", choices=("latency", "meter"), help="injected AWS latency, or metered write units"
    )
    args = parser.parse_args(argv)
    if args.mode == "all":
        jobs = tuple(args.job or JOBS)
        sizes = {job: args.members for job in jobs} if args.members else None
        return 0 if goals_met(run_all(jobs, sizes)) else 1
    if args.mode == "backend":
        serve()
        return 0
    (job,) = args.job
    result = do_setup(job, args.members) if args.mode == "setup" else do_measure(job, args.members, args.aws)
    args.out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
