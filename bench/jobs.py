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
of every item of the table (see `_fast_read_responses`, `_queries_by_partition`). Both sides of
a ratio gain alike; a 500-item page went from about 6 s to 0.2 s.

Figures are printed as tables and written to `.bench/jobs.json`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)  # run as a script: only bench/ is on the path

from bench.aws_model import FULL_VCPU_MB
from bench.processes import ROOT, Backend, backend_client, child_env, peak_rss_mb, run_child
from local_stack.moto_transactions import item_rollback_transactions

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


# --- the moto backend ----------------------------------------------------------------------

FAST_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})


def _fast_read_responses() -> None:
    """moto's generic response serializer walks the botocore shape of every attribute value:
    about 13 ms per member item here, 6 s for a 500-item page, where DynamoDB answers in tens
    of milliseconds. moto's DynamoDB read results are plain JSON already (`DynamoResult`):
    this writes them as they are (what the serializer makes of them, minus its walk), and
    leaves anything that is not plain JSON (binary values, errors, other operations) to it."""
    import json as _json

    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in FAST_READS and isinstance(self.result, dict):
            try:
                body = _json.dumps(self.result, separators=(",", ":"))
            except TypeError:
                return original(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def _queries_by_partition() -> None:
    """moto's Query looks at every item of the table to find the queried partition (a table's
    or an index's), sorts them with Python-level comparisons and deep-copies the page: at
    100,000 members, most of a second per 500-item page, growing with the table, where DynamoDB
    reads one partition. Here the candidates are found first (a table's partition: moto keeps
    its items by hash key; an index's: one pass comparing one attribute), put in key order (so
    that moto's own sort has nothing left to do), and the page is not copied (moto only reads
    and projects it, and its projections build new items). moto's own code does the rest: key
    conditions, order, start key, limits, the 1 MB page size, filters, projections."""
    import bisect
    import copy as copy_module

    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import Table

    class NoDeepCopy:
        copy = staticmethod(copy_module.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return list(value) if isinstance(value, list) else value

    original = Table.query

    def order(item: Any, names: list[str]) -> tuple[str, ...]:
        return tuple(str(item.attrs[name].value) if name in item.attrs else "" for name in names)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        table_keys = (
            [self.hash_key_attr, self.range_key_attr] if self.range_key_attr else [self.hash_key_attr]
        )
        if index_name is None and self.range_key_attr and hash_key is not None:
            candidates = list(self.items.get(hash_key, {}).values())
            names = [self.range_key_attr]
        elif index_name is not None and len(conditions) == 1:
            name, value = conditions[0]
            kind, wanted = value.type, value.value
            candidates = [
                item
                for partition in self.items.values()
                for item in (partition.values() if self.range_key_attr else (partition,))
                if (found := item.attrs.get(name)) is not None
                and found.value == wanted
                and found.type == kind
            ]
            index = next((i for i in self.all_indexes() if i.name == index_name), None)
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index else []
            names = ranges + table_keys
        else:
            return original(self, *args, **kwargs)
        ordered = sorted((order(item, names), n, item) for n, item in enumerate(candidates))
        candidates = [item for _, _, item in ordered]
        start = args[4] if len(args) > 4 else kwargs.get("exclusive_start_key")
        forward = args[5] if len(args) > 5 else kwargs.get("scan_index_forward", True)
        values = [getattr(start.get(name), "value", None) for name in names] if start and forward else []
        types = [getattr(start.get(name), "type", None) for name in names] if values else []
        if values and all(kind == "S" for kind in types):
            # forward, string keys: this order is moto's, so the items up to the start key can go
            after = bisect.bisect_right([key for key, _, _ in ordered], tuple(values))
            candidates = candidates[after:]
        self.all_items = lambda: candidates  # the instance's, for this call (one request at a time)
        table_module.copy = NoDeepCopy  # type: ignore[assignment]
        try:
            return original(self, *args, **kwargs)
        finally:
            table_module.copy = copy_module
            del self.all_items

    Table.query = query  # type: ignore[method-assign]


def serve() -> None:
    """`bench/moto_backend.py` (its own speed changes, one request at a time), with fast reads."""
    from bench import moto_backend

    _fast_read_responses()
    _queries_by_partition()
    item_rollback_transactions()
    moto_backend.main()


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
        "units_run": _run_figures(metered["run"], members),
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


# --- what the children do ----------------------------------------------------------------


def _member(n: int, job: str) -> tuple[Any, list[dict[str, Any]]]:
    """Member n of a job's program, and the other items of its partition (ledger entries)."""
    from loyalty_engine.kernel import keys
    from loyalty_engine.kernel.ids import new_id
    from loyalty_engine.kernel.records import item
    from loyalty_engine.points.ledger import LedgerEntry, Lot, LotMovement
    from loyalty_engine.points.lots import layout, summarize
    from loyalty_engine.points.member_store import chunk_data
    from loyalty_engine.points.members import Member

    bucket = (n * 37) % 100  # spreads the shares evenly over card numbers (and shards)
    rank = 1
    if bucket < 12:  # reaches Silver
        q = 500 + (n * 7) % 1500
    elif bucket < 15:  # reaches Gold
        q = 2000 + (n * 11) % 2000
    elif bucket < 20:  # Silver already, stays
        rank, q = 2, 600 + (n * 13) % 1400
    else:  # stays Blue
        q = (n * 17) % 500
    nq = 10 * q  # the sample program: 10 NQ and 1 Q point per euro
    earned = EARNED if job != "expire-points" or n % 2 == 0 else EARNED_LATER
    burnt = nq // 4 if job == "reconcile" else 0
    nq_lot = Lot(
        lot_id=new_id(),
        kind="nq",
        points=nq - burnt,
        available_at=earned + timedelta(days=14),
        expires_at=earned.replace(year=earned.year + 1),
        order_id=f"order-{n:08d}",
    )
    q_lot = Lot(
        lot_id=new_id(),
        kind="q",
        points=q,
        available_at=earned,
        expires_at=earned.replace(year=earned.year + 1),
        order_id=f"order-{n:08d}",
    )
    entries: list[dict[str, Any]] = []
    version = 1
    if job == "reconcile":
        pk = keys.member_pk(GROUP, card(n))
        earn = LedgerEntry(
            entry_id=new_id(),
            at=earned,
            kind="earn",
            reference=f"order-{n:08d}",
            nq=nq,
            q=q,
            nq_balance=nq,
            q_balance=q,
            movements=[
                LotMovement(lot_id=nq_lot.lot_id, kind="nq", points=nq),
                LotMovement(lot_id=q_lot.lot_id, kind="q", points=q),
            ],
        )
        burn = LedgerEntry(
            entry_id=new_id(),
            at=earned + timedelta(days=30),
            kind="burn",
            reference=f"burn-{n:08d}",
            nq=-burnt,
            q=0,
            nq_balance=nq - burnt,
            q_balance=q,
            movements=[LotMovement(lot_id=nq_lot.lot_id, kind="nq", points=-burnt)],
        )
        for position, entry in enumerate((earn, burn), start=1):
            data = entry.model_dump(mode="json")
            entries.append(item(pk, keys.entry_sk(position, 0), "ledger_entry", data))
        version = 2
    member = Member(
        card_code=card(n),
        program_id=PROGRAM,
        customer_ref=f"customer-{n:08d}",
        subscribed_at=SUBSCRIBED,
        created_at=SUBSCRIBED,
        tier_rank=rank,
        lots=[nq_lot, q_lot],
        points=summarize([nq_lot, q_lot], None),
        version=version,
    )
    # The lots live beside the member item, in chunks by expiry month (points.lots).
    pk = keys.member_pk(GROUP, card(n))
    for chunk, lots in layout(member.lots, {}).items():
        entries.append(item(pk, keys.lot_chunk_sk(chunk), "lots", chunk_data(lots)))
    return member, entries


def expected_changes(job: str, members: int) -> int:
    if job == "tier-upgrade":
        return sum(1 for n in range(members) if (n * 37) % 100 < 15)
    if job == "expire-points":
        return sum(1 for n in range(members) if n % 2 == 0)
    return 0


def do_setup(job: str, members: int) -> dict[str, Any]:
    from bench.imports import item_size
    from loyalty_engine.access.models import GroupSettings, LoyaltyGroup
    from loyalty_engine.access.store import GroupStore
    from loyalty_engine.kernel.batch import batch_put
    from loyalty_engine.kernel.dynamo import client, to_item
    from loyalty_engine.kernel.settings import Settings, load
    from loyalty_engine.points.member_store import member_item
    from tests.integration.conftest import ADMIN
    from tests.support.api import call

    GroupStore(client(), load(Settings).table_name).create_group(
        LoyaltyGroup(
            group_id=GROUP, name="Demo", settings=GroupSettings(), created_at=datetime(2025, 1, 1, tzinfo=UTC)
        )
    )
    reply = call("api_put_program", ADMIN, path={"program_id": PROGRAM}, body=program_body())
    if reply.status != 201:
        raise RuntimeError(f"program not created: {reply.body}")
    requests = 0
    first = to_item(member_item(GROUP, _member(0, job)[0]))
    for start in range(0, members, SEED_CHUNK):
        items: list[dict[str, Any]] = []
        for n in range(start, min(members, start + SEED_CHUNK)):
            member, entries = _member(n, job)
            items.append(member_item(GROUP, member))
            items.extend(entries)
        requests += batch_put(client(), os.environ["TABLE_NAME"], items)
    return {"members": members, "batch_write_requests": requests, "member_item_bytes": item_size(first)}


class Calls:
    """DynamoDB requests by operation on one client (botocore hooks), and the time spent in them."""

    def __init__(self, dynamodb: Any):
        self.calls: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.attempts = 0
        self._started = 0.0
        dynamodb.meta.events.register("before-call.dynamodb", self._before)
        dynamodb.meta.events.register("after-call.dynamodb", self._after)
        dynamodb.meta.events.register("before-send.dynamodb", self._send)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        self._started = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        self.seconds[model.name] += time.perf_counter() - self._started

    def _send(self, **_: Any) -> None:
        self.attempts += 1  # HTTP attempts: more than calls if botocore retried

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()
        self.attempts = 0


def raw_read(dynamodb: Any, calls: Calls, aws: Any = None) -> dict[str, Any]:
    """Every member of the program from gsi1, shard by shard, pages of PAGE_SIZE, decoded."""
    from loyalty_engine.kernel import keys
    from loyalty_engine.kernel.dynamo import from_item
    from loyalty_engine.kernel.table import GSI1, MEMBER_SHARDS
    from loyalty_engine.tiers.job_store import PAGE_SIZE

    calls.reset()
    latency = aws[0] if aws is not None else None
    if latency is not None:
        latency.reset()
    table = os.environ["TABLE_NAME"]
    items = 0
    started, cpu = time.perf_counter(), time.process_time()
    for shard in range(MEMBER_SHARDS):
        params: dict[str, Any] = {
            "TableName": table,
            "IndexName": GSI1.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": GSI1.partition_key},
            "ExpressionAttributeValues": {":pk": {"S": keys.program_members_gsi1pk(GROUP, PROGRAM, shard)}},
            "Limit": PAGE_SIZE,
        }
        while True:
            response = dynamodb.query(**params)
            for raw in response.get("Items", []):
                from_item(raw)
                items += 1
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            params["ExclusiveStartKey"] = last
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "items": items,
        "wall_s": wall,
        "cpu_s": cpu,
        "items_per_s": items / wall,
        "requests": sum(calls.calls.values()),
        "seconds_in_calls": sum(calls.seconds.values()),
    } | ({"aws": {"latency": latency.figures()}} if latency is not None else {})


def timed_run(services: Any, calls: Calls, job: str, at: datetime, aws: Any = None) -> dict[str, Any]:
    from loyalty_engine.tiers.jobs import JobRequest
    from loyalty_engine.tiers.run_use_cases import run_now

    request = JobRequest(group=GROUP, program_id=PROGRAM, job=job, scheduled_at=at)  # type: ignore[arg-type]
    calls.reset()
    latency, meter = aws if aws is not None else (None, None)
    for hook in (latency, meter):
        if hook is not None:
            hook.reset()
    rss_before = peak_rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_now(services, request)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    measured = (
        {
            "aws": {
                "latency": latency.figures() if latency is not None else None,
                "meter": meter.figures(wall) if meter is not None else None,
            }
        }
        if aws is not None
        else {}
    )
    return measured | {
        "scheduled_at": at.isoformat(),
        "state": summary.state,
        "members": summary.members,
        "changed": summary.changed,
        "retried": summary.retried,
        "drift": summary.drift,
        "wall_s": wall,
        "cpu_s": cpu,
        "calls": dict(sorted(calls.calls.items())),
        "call_seconds": {op: round(t, 2) for op, t in sorted(calls.seconds.items())},
        "attempts": calls.attempts,
        "peak_rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
    }


def do_measure(job: str, members: int, aws: str | None = None) -> dict[str, Any]:
    import loyalty_engine.tiers.run_use_cases  # noqa: F401 - imported before the baseline RSS
    from loyalty_engine.handlers.api_context import default_context
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.tiers.context import JobServices

    ctx = default_context()
    # Runs by hand are refused as of an instant in the future: the runs' clock is past all of them.
    after_the_runs = max(UPGRADE_AT + timedelta(days=2), RECONCILE_AT, EXPIRE_AT) + timedelta(hours=1)
    services = JobServices(
        programs=ctx.programs, members=ctx.members, jobs=ctx.jobs, queue=None, clock=lambda: after_the_runs
    )
    dynamodb = client()
    calls = Calls(dynamodb)
    hooks: tuple[Any, Any] | None = None
    clock = None
    if aws == "latency":  # injected latency, frozen while moto serves (bench/aws_pass.py)
        from bench.aws_hooks import FrozenClock, Latency

        clock = FrozenClock(os.environ["AWS_ENDPOINT_URL"])
        hooks = (Latency(clock=clock).install(dynamodb), None)
    elif aws == "meter":  # metered write units (bench/aws_pass.py)
        from bench.aws_hooks import WriteMeter

        hooks = (None, WriteMeter(dynamodb))
    result: dict[str, Any] = {"job": job, "members": members, "rss_start_mb": peak_rss_mb()}
    if job == "tier-upgrade":
        raws = [raw_read(dynamodb, calls, hooks)]
        result["run"] = timed_run(services, calls, job, UPGRADE_AT, hooks)
        raws.append(raw_read(dynamodb, calls, hooks))
        result["replay"] = timed_run(services, calls, job, UPGRADE_AT, hooks)
        result["next_day"] = timed_run(services, calls, job, UPGRADE_AT + timedelta(days=1), hooks)
        raws.append(raw_read(dynamodb, calls, hooks))
        result["raw_reads"] = raws
    elif job == "reconcile":
        result["run"] = timed_run(services, calls, job, RECONCILE_AT, hooks)
    else:
        result["run"] = timed_run(services, calls, job, EXPIRE_AT, hooks)
    if clock is not None:
        clock.close()
    run = result["run"]
    # A write that botocore retried after it had succeeded (its answer lost) fails its condition
    # the second time: the member counts as retried, not changed, though it did change.
    expected = expected_changes(job, members)
    counted = expected - run["retried"] <= run["changed"] <= expected
    if run["state"] != "completed" or run["members"] != members or not counted:
        raise RuntimeError(f"{job}: unexpected run {run} (expected {expected} changes)")
    # The replay answers the first run's summary (its figures); the next day's run changes nobody.
    replay, next_day = result.get("replay"), result.get("next_day")
    if replay is not None and (replay["state"], replay["changed"]) != ("completed", run["changed"]):
        raise RuntimeError(f"{job} replay: unexpected run {replay}")
    if next_day is not None and (next_day["state"], next_day["members"], next_day["changed"]) != (
        "completed",
        members,
        0,
    ):
        raise RuntimeError(f"{job} next day: unexpected run {next_day}")
    return result


# --- figures -----------------------------------------------------------------------------


def _run_figures(run: dict[str, Any], members: int) -> dict[str, Any]:
    requests = sum(run["calls"].values())
    return {
        "members": run["members"],
        "changed": run["changed"],
        "retried": run["retried"],
        "wall_s": round(run["wall_s"], 1),
        "cpu_s": round(run["cpu_s"], 1),
        "members_per_s": round(members / run["wall_s"]),
        "dynamodb_requests": requests,
        "requests_per_member": round(requests / members, 4),
        "dynamodb_http_attempts": run["attempts"],
        "dynamodb_by_operation": run["calls"],
        "seconds_in_calls_by_operation": run["call_seconds"],
        "seconds_outside_calls": round(run["wall_s"] - sum(run["call_seconds"].values()), 1),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
    }


def project(run: dict[str, Any], members: int) -> dict[str, Any]:
    """PROJECTION["members"] members on AWS: 16 shard workers in parallel, each working through
    its shard at the upgrade run's per-member request counts and CPU time, scaled linearly."""
    from loyalty_engine.kernel.table import MEMBER_SHARDS
    from loyalty_engine.tiers.job_store import PAGE_SIZE
    from loyalty_engine.tiers.run_use_cases import TIME_MARGIN_MS
    from loyalty_engine.wiring import JOB_WORKER

    per_shard = math.ceil(PROJECTION["members"] / MEMBER_SHARDS)
    scale = per_shard / members
    latency = PROJECTION["dynamodb_ms"]
    dynamodb_s = (
        sum(n * latency.get(op, PROJECTION["dynamodb_other_ms"]) for op, n in run["calls"].items())
        * scale
        / 1000
    )
    vcpu = min(1.0, JOB_WORKER.memory_mb / PROJECTION["full_vcpu_mb"])
    cpu_s = run["cpu_s"] * scale / vcpu
    shard_s = dynamodb_s + cpu_s
    usable_s = JOB_WORKER.timeout_s - TIME_MARGIN_MS / 1000
    moto_shard_s = per_shard / (members / run["wall_s"])
    return {
        "members": PROJECTION["members"],
        "shards": MEMBER_SHARDS,
        "members_per_shard": per_shard,
        "pages_per_shard": math.ceil(per_shard / PAGE_SIZE),
        "worker_memory_mb": JOB_WORKER.memory_mb,
        "worker_timeout_s": JOB_WORKER.timeout_s,
        "usable_s_per_invocation": usable_s,
        "vcpu_share": round(vcpu, 2),
        "dynamodb_s_per_shard": round(dynamodb_s),
        "cpu_s_per_shard": round(cpu_s),
        "shard_s": round(shard_s),
        "members_per_s_per_worker": round(per_shard / shard_s),
        "invocations_per_shard": math.ceil(shard_s / usable_s),
        "continuations": MEMBER_SHARDS * (math.ceil(shard_s / usable_s) - 1),
        "moto_members_per_s": round(members / run["wall_s"]),
        "moto_shard_s": round(moto_shard_s),
        "moto_invocations_per_shard": math.ceil(moto_shard_s / usable_s),
    }


def figures(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"goal_requests_per_member": GOAL_REQUESTS_PER_MEMBER, "jobs": {}}
    out["projection_assumptions"] = PROJECTION
    for job, result in results.items():
        members = result["members"]
        entry: dict[str, Any] = {
            "members": members,
            "setup_s": result["setup"]["wall_s"],
            "member_item_bytes": result["setup"]["member_item_bytes"],
            "run": _run_figures(result["run"], members),
        }
        if "raw_reads" in result:
            raws = result["raw_reads"]
            entry["raw_reads"] = [
                {
                    "items": r["items"],
                    "wall_s": round(r["wall_s"], 1),
                    "items_per_s": round(r["items_per_s"]),
                    "requests": r["requests"],
                }
                for r in raws
            ]
            around_run = (raws[0]["items_per_s"] + raws[1]["items_per_s"]) / 2
            around_next = (raws[1]["items_per_s"] + raws[2]["items_per_s"]) / 2
            entry["run"]["raw_items_per_s"] = round(around_run)
            entry["run"]["ratio_to_raw"] = round(members / result["run"]["wall_s"] / around_run, 2)
            entry["replay"] = _run_figures(result["replay"], members)
            entry["next_day"] = _run_figures(result["next_day"], members)
            entry["next_day"]["raw_items_per_s"] = round(around_next)
            entry["next_day"]["ratio_to_raw"] = round(members / result["next_day"]["wall_s"] / around_next, 2)
            entry["projection_on_aws"] = project(result["run"], members)
            entry["projection_on_aws_next_day"] = project(result["next_day"], members)
        out["jobs"][job] = entry
    return out


def table(result: dict[str, Any]) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "MISS"

    goal = result["goal_requests_per_member"]
    lines = [
        "",
        "## Scheduled jobs on moto (server in its own process), through tiers.run_use_cases.run_now",
        "",
        f"| run | members | changed | wall s | members/s | raw read items/s | ratio | DDB req/member (<= {goal}) "
        "| peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows: list[tuple[str, dict[str, Any]]] = []
    for job, entry in result["jobs"].items():
        rows.append((job, entry["run"]))
        if "replay" in entry:
            rows.append((f"{job}, replay of the same run", entry["replay"]))
            rows.append((f"{job}, next day (no change left)", entry["next_day"]))
    for name, run in rows:
        per_member = run["requests_per_member"]
        if run is result["jobs"].get("tier-upgrade", {}).get("replay"):
            # a completed run answers its summary: a few requests in all, not per member
            speed, requests = "-", f"{run['dynamodb_requests']} requests in all"
        else:
            speed, requests = f"{run['members_per_s']:,}", f"{per_member} {mark(per_member <= goal)}"
        lines.append(
            f"| {name} | {run['members']:,} | {run['changed']:,} | {run['wall_s']} | {speed} | "
            f"{run.get('raw_items_per_s', '-')} | {run.get('ratio_to_raw', '-')} | {requests} | {run['peak_rss_mb']} |"
        )
    lines += [
        "",
        "| run | DynamoDB requests by operation | outside calls s | in calls s, by operation (mean per call) |",
        "|---|---|---:|---|",
    ]
    for name, run in rows:
        ops = ", ".join(f"{op} {n:,}" for op, n in run["dynamodb_by_operation"].items())
        if run["dynamodb_http_attempts"] != run["dynamodb_requests"]:
            ops += f" ({run['dynamodb_http_attempts']:,} HTTP attempts: botocore retried)"
        spent = sorted(run["seconds_in_calls_by_operation"].items(), key=lambda kv: -kv[1])
        timed = ", ".join(
            f"{op} {t:g} ({1000 * t / run['dynamodb_by_operation'][op]:.1f} ms)"
            for op, t in spent
            if t >= 0.05 and run["dynamodb_by_operation"].get(op)
        )
        lines.append(f"| {name} | {ops} | {run['seconds_outside_calls']} | {timed or '-'} |")
    tiers = result["jobs"].get("tier-upgrade")
    if tiers:
        raws = ", ".join(f"{r['items_per_s']:,} ({r['wall_s']} s)" for r in tiers["raw_reads"])
        lines += [
            "",
            f"Raw reads (items/s), in turns with the runs: {raws}. The upgrade run's ratio is to the mean of "
            "the reads before and after it; the next day's to the two around it. A member item: about "
            f"{tiers['member_item_bytes']:,} bytes (two lots). Setup (not measured): {tiers['setup_s']} s.",
        ]
        p = tiers["projection_on_aws"]
        ms = ", ".join(f"{op} {v:g} ms" for op, v in PROJECTION["dynamodb_ms"].items())
        lines += [
            "",
            f"Projection of a tier-upgrade run over {p['members']:,} members on AWS: {p['shards']} shard workers "
            f"in parallel ({p['worker_memory_mb']} MB, {p['worker_timeout_s']} s, continuing in a new invocation "
            f"{p['worker_timeout_s'] - p['usable_s_per_invocation']:g} s before the timeout), each with "
            f"{p['members_per_shard']:,} members ({p['pages_per_shard']:,} pages), at the measured runs' "
            f"requests and CPU time per member. Assumptions: p50 latencies {ms}; calls one after the other "
            "(the run writes a page's members 16 at once: computed as if it did not, this errs on the slow "
            "side; `bench/aws_pass.py` measures it); "
            f"CPU time divided by the worker's vCPU share ({p['vcpu_share']}).",
            "",
            "| run | | DynamoDB s/shard | CPU s/shard | s/shard | members/s/worker | invocations/shard "
            "| continuation messages |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, key in (
            ("upgrade (15 % change)", "projection_on_aws"),
            ("next day", "projection_on_aws_next_day"),
        ):
            q = tiers[key]
            lines += [
                f"| {name} | AWS (projected) | {q['dynamodb_s_per_shard']:,} | {q['cpu_s_per_shard']:,} | "
                f"{q['shard_s']:,} | {q['members_per_s_per_worker']:,} | {q['invocations_per_shard']} | "
                f"{q['continuations']} |",
                f"| {name} | at moto's rate | - | - | {q['moto_shard_s']:,} | {q['moto_members_per_s']:,} | "
                f"{q['moto_invocations_per_shard']} | {q['shards'] * (q['moto_invocations_per_shard'] - 1)} |",
            ]
    return "\n".join(lines)


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


def goals_met(result: dict[str, Any]) -> bool:
    tiers = result["jobs"].get("tier-upgrade")
    return tiers is None or tiers["run"]["requests_per_member"] <= GOAL_REQUESTS_PER_MEMBER


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
