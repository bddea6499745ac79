"""Scheduled jobs in tests: a loyalty group with the sample program driven through the API,
inline runs, the job handlers fed with SQS events, and crashes injected into the real store."""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.settings import Settings, load
from loyalty_engine.tiers.calendars import PROGRAM_TZ
from loyalty_engine.tiers.context import JobServices
from loyalty_engine.tiers.job_store import JobStore
from loyalty_engine.tiers.jobs import JobName, JobRequest, RunSummary
from loyalty_engine.tiers.run_use_cases import run_now
from tests.integration.conftest import SHOP, order_body
from tests.support.api import LambdaContext, call, load_event
from tests.support.clock import FakeClock
from tests.support.tiers import ref_downgrade, ref_upgrade

SAMPLE = json.loads(load_event("api_put_program")["body"])
ENTRY = [tier["entry_threshold"] for tier in SAMPLE["tier_settings"]["tiers"]]
DOWN = [tier["downgrade_threshold"] for tier in SAMPLE["tier_settings"]["tiers"]]
MAX_DOWN = SAMPLE["tier_settings"]["max_tier_downgrade"]
DOWNGRADE_AT = datetime(2027, 1, 1, 2, tzinfo=UTC)  # 03:00 GMT+1 on 1 January: the first downgrade


class Crash(Exception):
    """Injected: the process dies here."""


def crash_after(
    method: Callable[..., Any], calls: int, when: Callable[..., bool] | None = None
) -> Callable[..., Any]:
    """`method`, raising Crash instead of its call number `calls` + 1 (counting the calls `when` selects)."""
    seen = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal seen
        if when is None or when(*args, **kwargs):
            if seen >= calls:
                raise Crash(method.__name__)
            seen += 1
        return method(*args, **kwargs)

    return wrapper


def job_store(page_size: int | None = None) -> JobStore:
    """A store of its own (methods may be wrapped without touching the shared one)."""
    store = JobStore(client(), load(Settings).table_name)
    if page_size is not None:
        read = store.members_page
        store.members_page = lambda group, program_id, shard, cursor: read(  # type: ignore[method-assign]
            group, program_id, shard, cursor, limit=page_size
        )
    return store


def services(
    jobs: JobStore | None = None, on_finished: Callable[[RunSummary], None] | None = None
) -> JobServices:
    ctx = default_context()
    return JobServices(
        programs=ctx.programs,
        members=ctx.members,
        jobs=jobs or ctx.jobs,
        queue=None,
        clock=ctx.clock,
        on_finished=on_finished,
    )


def run_in_time(request: JobRequest, jobs: JobStore | None = None) -> RunSummary:
    """An operator's run as of `request.scheduled_at`, made once that instant has come: the fake
    clock moves on to it if it is behind (a run as of an instant in the future is refused)."""
    clock = default_context().clock
    if isinstance(clock, FakeClock) and clock.now < request.scheduled_at:
        clock.now = request.scheduled_at
    return run_now(services(jobs), request)


def cards_in_shard(shard: int, count: int, prefix: str = "CARD") -> list[str]:
    cards = []
    n = 0
    while len(cards) < count:
        card = f"{prefix}-{n:05d}"
        if keys.member_shard(card) == shard:
            cards.append(card)
        n += 1
    return cards


class Group:
    """A loyalty group with the sample program `club`, set up and read through the API."""

    def __init__(self, name: str, program: dict[str, Any] | None = None):
        self.name = name
        self.admin = Caller(group_id=name, key_id="01JD0000000000000000000A01", scopes=("admin",))
        self.shop = Caller(group_id=name, key_id="01JD0000000000000000000A02", scopes=("shop",))
        reply = call("api_put_program", self.admin, body=program or SAMPLE)
        assert reply.status == 201, reply.body

    def enrol(self, card: str, subscribed_at: datetime | None = None) -> None:
        body: dict[str, Any] = {"card_code": card}
        if subscribed_at is not None:
            body["subscribed_at"] = subscribed_at.isoformat()
        reply = call("api_enrol_member", self.shop, body=body)
        assert reply.status == 201, reply.body

    def earn(self, card: str, order_id: str, amount: Decimal | str, ordered_at: datetime) -> dict[str, Any]:
        body = order_body(order_id=order_id, amount=str(amount), ordered_at=ordered_at.isoformat(), lines=[])
        reply = call("api_earn_order", self.shop, path={"card_code": card}, body=body)
        assert reply.status == 201, reply.body
        return reply.body

    def member(self, card: str) -> dict[str, Any]:
        reply = call("api_get_member", self.shop, path={"card_code": card})
        assert reply.status == 200, reply.body
        return reply.body

    def rank(self, card: str) -> int | None:
        tier = self.member(card)["tier"]
        return tier["rank"] if tier else None

    def history(self, card: str, limit: int = 200) -> list[dict[str, Any]]:
        """Every tier change of the card, newest first (all pages)."""
        changes: list[dict[str, Any]] = []
        query = {"limit": str(limit)}
        while True:
            reply = call("api_get_tier_history", self.shop, path={"card_code": card}, query=query)
            assert reply.status == 200, reply.body
            changes.extend(reply.body["changes"])
            if not reply.body["next_cursor"]:
                return changes
            query = {"limit": str(limit), "cursor": reply.body["next_cursor"]}

    def ledger(self, card: str) -> list[dict[str, Any]]:
        reply = call("api_get_ledger", self.shop, path={"card_code": card}, query={"limit": "200"})
        assert reply.status == 200, reply.body
        return reply.body["entries"]

    def request(self, job: JobName, at: datetime) -> JobRequest:
        return JobRequest(group=self.name, program_id="club", job=job, scheduled_at=at)

    def run(self, job: JobName, at: datetime, jobs: JobStore | None = None) -> RunSummary:
        return run_in_time(self.request(job, at), jobs)


def q_points(amount: Decimal) -> int:
    """Q points of an order in the sample program at Blue (1 per EUR, rounded down, multiplier 1)."""
    return int(amount.quantize(Decimal(1), ROUND_FLOOR))


def reference_ranks(
    earns: list[tuple[datetime, Decimal]], runs: list[tuple[str, datetime]]
) -> tuple[int | None, list[tuple[str, int | None, int | None, datetime]]]:
    """A Blue member's tier after `runs`, and its changes (cause, previous, new, at), from the
    rules: Q points valid for one year from the order (a year of the program's GMT+1 calendar),
    thresholds of the sample program."""
    rank: int | None = 1
    changes = []
    for job, at in runs:
        q = sum(
            q_points(amount)
            for ordered_at, amount in earns
            if ordered_at <= at < ordered_at.astimezone(PROGRAM_TZ) + relativedelta(years=1)
        )
        new = ref_upgrade(ENTRY, rank, q) if job == "tier-upgrade" else ref_downgrade(DOWN, rank, q, MAX_DOWN)
        if new != rank:
            changes.append(("upgrade_run" if job == "tier-upgrade" else "downgrade_run", rank, new, at))
            rank = new
    return rank, changes


def history_as_changes(history: list[dict[str, Any]]) -> list[tuple[str, int | None, int | None, datetime]]:
    """The API's tier history (newest first) as (cause, previous, new, at), oldest first."""
    return [
        (
            change["cause"],
            change["previous_tier"]["rank"] if change["previous_tier"] else None,
            change["new_tier"]["rank"] if change["new_tier"] else None,
            datetime.fromisoformat(change["at"]),
        )
        for change in reversed(history)
    ]


# ---------------------------------------------------------------- handlers


class JobContext(LambdaContext):
    function_name = "JobWorker"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:JobWorker"

    def __init__(self, remaining_ms: Callable[[], int] | int = 900_000):
        self.remaining = remaining_ms
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return self.remaining() if callable(self.remaining) else self.remaining


def start_event(**overrides: Any) -> dict[str, Any]:
    return {**load_event("scheduler_job_start"), **overrides}


def sqs_event(*bodies: str | dict[str, Any]) -> dict[str, Any]:
    template = load_event("sqs_job_shard")["Records"][0]
    records = []
    for body in bodies:
        record = dict(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        record["md5OfBody"] = format(zlib.crc32(record["body"].encode()), "x")
        records.append(record)
    return {"Records": records}


def emf_metrics(output: str) -> Iterator[tuple[str, float]]:
    """(name, value) of every metric in the Embedded Metric Format lines of `output`."""
    for line in output.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    yield metric["Name"], value


REGION = "eu-west-1"


def _history(card: str) -> list[dict]:
    reply = call("api_get_tier_history", SHOP, path={"card_code": card}, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return reply.body["changes"]
