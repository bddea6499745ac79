"""What the children of `bench/jobs.py` do (`python bench/jobs.py setup|measure`): seed a job's
members, then run the job and the raw reads next to it, counting DynamoDB requests."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.jobs_common import (
    EARNED,
    EARNED_LATER,
    EXPIRE_AT,
    GROUP,
    PROGRAM,
    RECONCILE_AT,
    SEED_CHUNK,
    SUBSCRIBED,
    UPGRADE_AT,
    card,
    program_body,
)
from bench.processes import peak_rss_mb

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
    from bench.aws_model import item_size
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
