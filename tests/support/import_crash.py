"""The crash machinery of the import crash tests (test_imports_crash*.py): Hypothesis strategies
of reward files and crash plans, the patched writes that die where a plan says, redelivery until
done, and the final state compared with one clean run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import strategies as st

from loyalty_engine.handlers import imports
from loyalty_engine.imports.context import import_services
from tests.support.aws import fresh_caches, moto_table
from tests.support.import_state import bucket_keys, queued_messages, snapshot
from tests.support.import_world import PROGRAM, ImportWorld, make_world
from tests.support.imports import BUCKET, ImportContext, notification, sqs_event, upload

REWARDS = ("r1", "r2", "r3")
CARDS = ("CC0001", "CC0002", "CC0003")
ATTRIBUTIONS = ("A1", "A2", "A3", "A4", "A5")
HEADERS = {
    "masterreward": (
        "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
        "forced_validity;is_limited;max_attribution_count;is_auto_generated"
    ),
    "earnreward": (
        "reward_id;card_code;attribution_id;quantity;earn_date;validity_start_date;validity_end_date;burn_date"
    ),
    "burnreward": "card_code;attribution_id;burn_date;context",
    "member": "card_code;customer_ref;subscribed_at",
    "vip": "card_code;vip_tier;action;reason",
}
VALID = "2018-08-01 00:00:00;2018-09-01 00:00:00"


class Crash(RuntimeError):
    """The import function dies here (a timeout, an out-of-memory, a lost container)."""


# --- files -----------------------------------------------------------------------------

reward_ids = st.sampled_from(REWARDS)
master_lines = st.one_of(
    st.builds(
        lambda r, name, stock: f"{r};{name};0;10;0;1;month;0;1;{stock};0",
        reward_ids,
        st.sampled_from("AB"),
        st.integers(1, 5),
    ),
    st.builds(lambda r: f"{r};Auto;0;10;0;1;day;0;0;;1", reward_ids),
    st.builds(lambda r, stock: f"{r};Auto few;0;10;0;1;week;0;1;{stock};1", reward_ids, st.integers(1, 3)),
    st.builds(lambda r: f"{r};Plenty;0;10;0;1;year;0;0;50;0", reward_ids),
    st.sampled_from(
        [
            "x;;0;1",  # column_count
            "r1;Bad flag;2;10;0;1;month;0;1;3;0",  # invalid_flag
            "r2;No stock;0;10;0;1;month;0;1;0;0",  # limited_without_stock
            "r3;No price;0;;0;1;month;0;1;3;0",  # missing_value
            "r1;Bad type;0;10;0;1;fortnight;0;1;3;0",  # invalid_interval_type
        ]
    ),
)
earn_lines = st.builds(
    lambda reward, card, attribution, quantity, earned, window, burned: (
        f"{reward};{card};{attribution};{quantity};{earned};{window};{burned}"
    ),
    st.sampled_from((*REWARDS, "nope")),
    st.sampled_from((*CARDS, "CC9999")),
    st.sampled_from((*ATTRIBUTIONS, "")),
    st.sampled_from(["", "1", "2", "3", "0"]),
    st.sampled_from(["", "", "2018-08-01 10:00:00", "2018-07-30 10:00:00", "2018-08-01 10:00"]),
    st.sampled_from([VALID, VALID, VALID, "2018-09-01 00:00:00;2018-08-01 00:00:00"]),
    st.sampled_from(["", "", "", "2018-08-01 08:00:00", "2018-08-02 10:00:00"]),
)
burn_lines = st.builds(
    lambda card, attribution, burned: f"{card};{attribution};{burned};ctx",
    st.sampled_from((*CARDS, "CC9999")),
    st.sampled_from((*ATTRIBUTIONS, "", "NULL")),
    st.sampled_from(["", "", "2018-08-01 09:30:00", "2018-08-05 10:00:00", "2018-08-01"]),
)
member_lines = st.builds(
    lambda card, ref, subscribed: f"{card};{ref};{subscribed}",
    st.sampled_from(("CC0001", "CC0004", "CC0005", "bad card")),
    st.sampled_from(["", "a", "b"]),
    st.sampled_from(["", "", "2018-07-01 10:00:00", "2018-13-01"]),
)
vip_lines = st.builds(
    lambda card, tier, action, reason: f"{card};{tier};{action};{reason}",
    st.sampled_from(("CC0001", "CC0002", "CC0004", "CC9999")),
    st.sampled_from(("staff", "staff", "nope")),
    st.sampled_from(("grant", "grant", "remove", "promote")),
    st.sampled_from(("why", "why", "")),
)
LINES = {
    "masterreward": master_lines,
    "earnreward": earn_lines,
    "burnreward": burn_lines,
    "member": member_lines,
    "vip": vip_lines,
}


@st.composite
def file_sets(draw: st.DrawFn) -> list[tuple[str, str]]:
    """1 to 3 files of distinct (scope, day), as (name, content)."""
    slots = [(scope, day) for day in ("20180801", "20180802") for scope in HEADERS]
    chosen = draw(st.lists(st.sampled_from(slots), min_size=1, max_size=3, unique=True))
    files = []
    for scope, day in chosen:
        rows = draw(
            st.lists(st.one_of(LINES[scope], LINES[scope], LINES[scope], st.just("garbage")), max_size=15)
        )
        content = "\n".join((HEADERS[scope], *rows)) + "\n"
        files.append((f"demo_{scope}_{PROGRAM}_{day}.csv", content))
    return files


@dataclass
class Plan:
    """Where the function dies: the n-th write call (before or after it), the n-th chunk."""

    writes: dict[int, str] = field(default_factory=dict)  # call number -> "before" | "after"
    chunks: set[int] = field(default_factory=set)  # before_chunk call numbers
    timeouts: set[int] = field(default_factory=set)  # remaining-time question numbers
    order: list[int] = field(default_factory=list)  # delivery order of the files' notifications
    one_batch: bool = True


@st.composite
def plans(draw: st.DrawFn, files: int, writes: int, chunks: int, questions: int) -> Plan:
    """Crash points among the calls a clean run makes (so that they happen), at least one."""
    plan = Plan(
        writes=draw(
            st.dictionaries(st.integers(1, writes), st.sampled_from(["before", "after"]), max_size=3)
        ),
        chunks=draw(st.sets(st.integers(1, max(1, chunks)), max_size=2)) if chunks else set(),
        timeouts=draw(st.sets(st.integers(1, questions), max_size=2)),
        order=draw(st.permutations(range(files))),
        one_batch=draw(st.booleans()),
    )
    if not plan.writes and not plan.chunks:
        plan.writes[draw(st.integers(1, writes))] = draw(st.sampled_from(["before", "after"]))
    return plan


# --- running ---------------------------------------------------------------------------

WRITES = {
    "rewards": ("put_items", "add_burn", "reserve", "release_job", "put_reward"),
    "rewards.codes": ("append",),  # loading codes (rewardcode files)
    "jobs": ("create_job", "save_job"),
    "objects": ("put_bytes", "put_json", "put_stream", "move"),
    "queue": ("send",),
    "members": ("commit",),  # member and vip lines: one transaction per line
}
# Not the drain lock: its release is in a `finally` (an exception there would hide the
# crash), and a crash right after taking it is a hard kill, tested on its own below.


@contextmanager
def crashing(plan: Plan) -> Iterator[dict[str, int]]:
    """Make the import services die as the plan says (each planned crash happens once)."""
    svc = import_services()
    counters = {"writes": 0, "chunks": 0, "crashes": 0}
    pending_writes = dict(plan.writes)
    pending_chunks = set(plan.chunks)
    patched: list[tuple[Any, str]] = []

    def crash_now(when: str, number: int) -> bool:
        counters["crashes"] += 1
        return True

    def wrap(target: Any, name: str) -> None:
        original: Callable[..., Any] = getattr(target, name)

        def write(*args: Any, **kwargs: Any) -> Any:
            counters["writes"] += 1
            number = counters["writes"]
            when = pending_writes.pop(number, None)
            if when == "before" and crash_now(when, number):
                raise Crash(f"before {name} #{number}")
            result = original(*args, **kwargs)
            if when == "after" and crash_now(when, number):
                raise Crash(f"after {name} #{number}")
            return result

        setattr(target, name, write)
        patched.append((target, name))

    for store, names in WRITES.items():
        target: Any = svc
        for part in store.split("."):
            target = getattr(target, part)
        for name in names:
            wrap(target, name)

    def before_chunk(job: Any, chunk: int) -> None:
        counters["chunks"] += 1
        if counters["chunks"] in pending_chunks:
            pending_chunks.discard(counters["chunks"])
            counters["crashes"] += 1
            raise Crash(f"before chunk {chunk} of {job.file_name}")

    svc.before_chunk = before_chunk
    try:
        yield counters
    finally:
        svc.before_chunk = None
        for target, name in patched:
            delattr(target, name)


class Clock(ImportContext):
    """A Lambda context that says time is up at the planned questions (each once)."""

    asked = 0

    def __init__(self, timeouts: set[int]):
        super().__init__()
        self.timeouts = timeouts

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        Clock.asked += 1
        if Clock.asked in self.timeouts:
            self.timeouts.discard(Clock.asked)
            return 1_000
        return 900_000


def run(bodies: list[dict[str, Any]], context: ImportContext) -> list[dict[str, Any]]:
    """One SQS batch through the real handler: the bodies of the messages that failed."""
    event = sqs_event(*bodies)
    by_id = {record["messageId"]: json.loads(record["body"]) for record in event["Records"]}
    try:
        response = imports.handler(event, context)
    except BatchProcessingError:
        return list(by_id.values())  # every record failed
    return [by_id[failure["itemIdentifier"]] for failure in response["batchItemFailures"]]


def deliver_until_done(world: ImportWorld, keys: list[str], plan: Plan) -> int:
    """Deliver the notifications, then redeliver failures and run continuations until all is quiet."""
    timeouts = set(plan.timeouts)
    notifications = [notification(keys[i]) for i in plan.order]
    batches = [notifications] if plan.one_batch else [[body] for body in notifications]
    rounds = 0
    while batches:
        rounds += 1
        assert rounds < 60, "the import never settles"
        retry: list[dict[str, Any]] = []
        for batch in batches:
            retry += run(batch, Clock(timeouts))
        retry += queued_messages(world.sqs)
        batches = [retry] if retry else []
    return rounds


def final_state(world: ImportWorld) -> dict[str, Any]:
    objects = {
        key: world.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in bucket_keys(world.s3)
    }
    assert not [key for key in objects if key.startswith("incoming/")]
    return {"table": snapshot(), "objects": objects}


@contextmanager
def fresh_world(chunk_lines: int) -> Iterator[ImportWorld]:
    with moto_table():
        fresh_caches()
        world = make_world()
        world.add_vip_tier("staff")
        world.enrol(*CARDS)
        import_services().chunk_lines = chunk_lines
        try:
            yield world
        finally:
            Clock.asked = 0
            fresh_caches()


def upload_all(world: ImportWorld, files: list[tuple[str, str]]) -> list[str]:
    return [upload(world.s3, name, content) for name, content in files]


def crash_once(target: tuple[str, str], number: int, when: str) -> Callable[[], None]:
    """Make the `number`-th call of one write method crash (before or after it); returns an undo."""
    store, name = target
    owner = getattr(import_services(), store)
    original = getattr(owner, name)
    calls = {"n": 0}

    def write(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == number and when == "before":
            raise Crash(f"before {name}")
        result = original(*args, **kwargs)
        if calls["n"] == number and when == "after":
            raise Crash(f"after {name}")
        return result

    setattr(owner, name, write)
    return lambda: delattr(owner, name)
