"""Pre-issue batches on moto: the background path (202, the queue, checkpoints with progress,
continuations), crashes at every step of run_batch and the run resumed, two workers on one
batch, and the numbers: exactly `count`, unique, Luhn-valid, the series' prefix and never a
nested series' one, the table's instruments exactly the CSV export's numbers.

The world (tests.support.instruments): the sample gift card series `gift` (prefix 6012, 16
digits) and, nested in it and made before it issued anything, `gift-vip` (prefix 60125): a
tenth of gift's numbers fall in gift-vip and are skipped. SYNC_BATCH_LIMIT is 50 and run_batch
checkpoints every 50 indexes (CHUNK), so a few hundred numbers take several chunks and, since
skipped numbers leave a reservation short, more than one reservation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from loyalty_engine.handlers import instrument_batches
from loyalty_engine.instruments import series_use_cases as series_logic
from loyalty_engine.instruments.batches import BatchRequest
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.numbers import is_valid_number
from loyalty_engine.instruments.series_use_cases import run_batch
from tests.support.api import call, load_event
from tests.support.aws import fresh_caches
from tests.support.fast_clients import shared_botocore_loader
from tests.support.instruments import (
    ADMIN,
    GIFT,
    GROUP,
    POS,
    BatchContext,
    batch_event,
    budget,
    build_world,
    exported_rows,
    exports_and_queue,
    instruments_in_table,
    ok,
    sell,
)
from tests.support.queues import receive_all

SAMPLE_SERIES = json.loads(load_event("api_put_series")["body"])
VIP_PREFIX = "60125"
SECRET = "00112233445566778899aabbccddeeff"
SYNC_LIMIT = 50
CHUNK = 50


class Crash(Exception):
    """Injected: the worker dies here."""


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@dataclass
class World:
    client: Any
    table: str
    s3: Any
    sqs: Any
    queue_url: str
    bucket: str

    def create(self, batch_id: str, count: int) -> dict[str, Any]:
        """POST the batch through the API (202 above the sync limit: queued, nothing issued yet)."""
        reply = call(
            "api_create_batch",
            ADMIN,
            path={"series_id": GIFT},
            body={"batch_id": batch_id, "count": count},
        )
        assert reply.status == (202 if count > SYNC_LIMIT else 201), reply.body
        return reply.body

    def batch(self, batch_id: str) -> dict[str, Any]:
        return ok(call("api_get_batch", ADMIN, path={"series_id": GIFT, "batch_id": batch_id}), 200)

    def queued(self) -> list[dict[str, Any]]:
        return receive_all(self.sqs, self.queue_url)

    def check_issued(
        self, batch_id: str, count: int, stored: list[dict[str, str]] | None = None
    ) -> list[str]:
        """The batch completed with exactly `count` numbers, the same in the export and the table
        (`stored`: the table's instrument items, if already scanned)."""
        view = self.batch(batch_id)
        assert (view["status"], view["issued"], view["progress"]) == ("completed", count, 1.0), view
        key = f"exports/{GROUP}/{GIFT}/{batch_id}.csv"
        assert view["export"] == f"s3://{self.bucket}/{key}"
        rows = exported_rows(self.s3, key)
        numbers = [row["number"] for row in rows]
        assert len(numbers) == count
        assert len(set(numbers)) == count, "a number is exported twice"
        assert all(len(n) == 16 and n.startswith("6012") and is_valid_number(n) for n in numbers)
        assert not [n for n in numbers if n.startswith(VIP_PREFIX)], "a number of the nested series"
        assert {(row["series_id"], row["batch_id"], row["kind"], row["currency"]) for row in rows} == {
            (GIFT, batch_id, "gift_card", "EUR")
        }
        if stored is None:
            stored = instruments_in_table(self.client, self.table, batch_id)
        stored = [item for item in stored if item["batch_id"] == batch_id]
        assert len(stored) == count, "instruments outside the export, or missing"
        assert {item["number"] for item in stored} == set(numbers)
        return numbers


@pytest.fixture
def world(table, monkeypatch) -> Iterator[World]:
    client, name = table
    region = os.environ["AWS_DEFAULT_REGION"]
    s3, sqs = boto3.client("s3", region_name=region), boto3.client("sqs", region_name=region)
    bucket, url = exports_and_queue(s3, sqs, region)
    monkeypatch.setenv("EXPORT_BUCKET", bucket)
    monkeypatch.setenv("BATCH_QUEUE_URL", url)
    monkeypatch.setenv("SYNC_BATCH_LIMIT", str(SYNC_LIMIT))
    monkeypatch.setattr(series_logic, "CHUNK", CHUNK)
    monkeypatch.setattr(series_logic, "new_series_secret", lambda: SECRET)  # the same numbers every run
    fresh_caches()
    build_world()
    vip = {**SAMPLE_SERIES, "name": "VIP gift cards", "prefix": VIP_PREFIX}
    ok(call("api_put_series", ADMIN, path={"series_id": "gift-vip"}, body=vip))
    yield World(client, name, s3, sqs, url, bucket)
    fresh_caches()


def run(batch_id: str, remaining_ms: Callable[[], float] = lambda: 900_000) -> Any:
    batch = run_batch(instrument_services(), GROUP, GIFT, batch_id, remaining_ms)
    assert batch is not None
    return batch


def counter() -> int:
    series = instrument_services().series.series(GROUP, GIFT)
    assert series is not None
    return series.next_index


# --- the background path ------------------------------------------------------------------------


def test_a_large_batch_is_queued_then_issued_in_checkpointed_steps_until_complete(world):
    view = world.create("B-300", 300)
    assert (view["status"], view["issued"], view["progress"], view["export"]) == ("pending", 0, 0.0, None)
    assert world.queued() == [{"group": GROUP, "series_id": GIFT, "batch_id": "B-300"}]

    # time for the reservation and three chunks, then the invocation runs short
    stopped = run("B-300", budget(4))
    assert stopped.status == "pending"
    assert stopped.position == 3 * CHUNK
    assert 0.8 * 3 * CHUNK <= stopped.issued < 3 * CHUNK  # about a tenth skipped (gift-vip's)
    view = world.batch("B-300")
    assert (view["status"], view["issued"]) == ("pending", stopped.issued)
    assert view["progress"] == round(stopped.issued / 300, 4)
    assert view["export"] is None
    assert len(instruments_in_table(world.client, world.table, "B-300")) == stopped.issued

    done = run("B-300")
    assert done.status == "completed"
    world.check_issued("B-300", 300)
    # the skipped numbers needed a second reservation; nothing was reserved in vain
    assert len(done.ranges) >= 2
    assert done.reserved == counter()
    assert world.queued() == []  # continuing is the caller's job (the handler's, below)


def test_the_batch_post_is_idempotent(world):
    first = world.create("B-IDEM", 120)
    again = world.create("B-IDEM", 120)
    assert again == first
    # each POST of a pending batch queues it (a second worker is harmless: see below)
    assert len(world.queued()) == 2
    reused = call(
        "api_create_batch", ADMIN, path={"series_id": GIFT}, body={"batch_id": "B-IDEM", "count": 121}
    )
    assert (reused.status, reused.body["code"]) == (409, "idempotency_key_reused")
    run("B-IDEM")
    replay = call(
        "api_create_batch", ADMIN, path={"series_id": GIFT}, body={"batch_id": "B-IDEM", "count": 120}
    )
    assert replay.status == 201 and replay.body == world.batch("B-IDEM")
    world.check_issued("B-IDEM", 120)


# --- crashes at every step, then the run resumed -------------------------------------------------


def crash_on(
    obj: Any, name: str, monkeypatch, *, call_no: int, after: bool, when: Callable[..., bool] | None = None
):
    """Make `obj.name` raise Crash on its call number `call_no` (counting the calls `when`
    selects): before doing anything, or `after` the real call did its work."""
    real = getattr(obj, name)
    seen = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when is not None and not when(*args, **kwargs):
            return real(*args, **kwargs)
        seen[0] += 1
        if seen[0] != call_no:
            return real(*args, **kwargs)
        if after:
            real(*args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(obj, name, wrapper)


CRASHES = {
    # after the first reservation, before the batch records it: a gap in the counter
    "after_first_reservation": ("series", "reserve", 1, True, None),
    # after the second reservation (the top-up for skipped numbers)
    "after_second_reservation": ("series", "reserve", 2, True, None),
    # after a chunk's instruments are written, before the checkpoint: rewritten on resume
    "after_put_before_checkpoint": ("series", "put_instruments", 2, True, None),
    # the checkpoint itself lost
    "checkpoint_lost": ("series", "save_batch", 3, False, None),
    # all issued, the export not written
    "before_export": ("exports", "put_bytes", 1, False, None),
    # the export written, the completion not saved
    "before_completion_saved": (
        "series",
        "save_batch",
        1,
        False,
        lambda group, batch, previous: batch.status == "completed",
    ),
}


@pytest.mark.parametrize("crash", list(CRASHES))
def test_a_crashed_run_resumes_to_the_same_count_without_duplicates(world, monkeypatch, crash):
    world.create("B-CRASH", 240)
    store, method, call_no, after, when = CRASHES[crash]
    with monkeypatch.context() as patched:
        crash_on(
            getattr(instrument_services(), store), method, patched, call_no=call_no, after=after, when=when
        )
        with pytest.raises(Crash):
            run("B-CRASH")
    assert world.batch("B-CRASH")["status"] == "pending"

    done = run("B-CRASH")
    assert done.status == "completed"
    world.check_issued("B-CRASH", 240)
    if crash.startswith("after_") and crash.endswith("reservation"):
        assert counter() > done.reserved  # the lost reservation is a gap, never reused
    else:
        assert counter() == done.reserved


def test_a_crash_on_resume_too_still_ends_with_the_count(world, monkeypatch):
    world.create("B-TWICE", 200)
    services = instrument_services()
    for call_no in (2, 1):  # the second chunk's checkpoint, then the first of the resumed run
        with monkeypatch.context() as patched:
            crash_on(services.series, "put_instruments", patched, call_no=call_no, after=True)
            with pytest.raises(Crash):
                run("B-TWICE")
    run("B-TWICE")
    world.check_issued("B-TWICE", 200)


# --- two workers on one batch (a message delivered twice, an API replay during the run) ----------


def test_a_second_worker_during_the_first_ones_reservation(world, monkeypatch):
    """B runs the whole batch while A sits between its reservation and its checkpoint: A's
    checkpoint fails, A reads the batch again, finds it complete and stops."""
    world.create("B-TWO", 150)
    services = instrument_services()
    real = services.series.reserve
    calls: list[int] = []

    def reserve(*args: Any) -> tuple[int, int]:
        reserved = real(*args)
        calls.append(1)
        if len(calls) == 1:  # A's first reservation: B runs now, with the real store
            monkeypatch.setattr(services.series, "reserve", real)
            assert run("B-TWO").status == "completed"
        return reserved

    monkeypatch.setattr(services.series, "reserve", reserve)
    a = run("B-TWO")
    assert a.status == "completed"
    world.check_issued("B-TWO", 150)
    assert counter() > a.reserved  # A's reservation is a gap


def test_a_stale_worker_rewrites_only_the_batch_numbers(world, monkeypatch):
    """A stops before writing a chunk; B runs the whole batch; A then writes its (stale) chunk and
    fails its checkpoint: the same numbers, nothing more."""
    world.create("B-STALE", 150)
    services = instrument_services()
    real = services.series.put_instruments
    calls: list[int] = []

    def put_instruments(items: list[dict[str, Any]]) -> int:
        calls.append(1)
        if len(calls) == 2:  # A's second chunk
            monkeypatch.setattr(services.series, "put_instruments", real)
            assert run("B-STALE").status == "completed"
        return real(items)

    monkeypatch.setattr(services.series, "put_instruments", put_instruments)
    assert run("B-STALE").status == "completed"
    world.check_issued("B-STALE", 150)


def test_a_stale_worker_never_undoes_a_sale(world, monkeypatch):
    world.create("B-SOLD", 100)
    services = instrument_services()
    real = services.series.put_instruments
    sold: list[str] = []

    def put_instruments(items: list[dict[str, Any]]) -> int:
        if not sold:  # A is about to write its first chunk: B completes, a card is sold
            monkeypatch.setattr(services.series, "put_instruments", real)
            assert run("B-SOLD").status == "completed"
            sold.append(items[0]["number"])
            ok(sell(sold[0], "25.00", "SALE-STALE"))
        return real(items)

    monkeypatch.setattr(services.series, "put_instruments", put_instruments)
    run("B-SOLD")
    (number,) = sold
    view = ok(call("api_lookup_instrument", POS, path={"number": number}), 200)
    assert (view["status"], view["balance"]) == ("active", "25.00")


# --- numbers: a large batch, and two batches of one series --------------------------------------


def test_five_thousand_numbers_are_unique_and_two_batches_are_disjoint(world, monkeypatch):
    monkeypatch.setattr(series_logic, "CHUNK", 1000)  # the deployed checkpoint size
    svc = instrument_services()
    for batch_id, count in (("B-5000", 5000), ("B-NEXT", 300)):
        series_logic.create_batch(svc, ADMIN, GIFT, BatchRequest(batch_id=batch_id, count=count), SYNC_LIMIT)
        assert run(batch_id).status == "completed"
    stored = instruments_in_table(world.client, world.table)  # one scan for both
    assert len(stored) == 5300
    big = world.check_issued("B-5000", 5000, stored)
    following = world.check_issued("B-NEXT", 300, stored)
    assert not set(big) & set(following)


# --- the SQS handler ----------------------------------------------------------------------------


def test_the_batch_issuer_completes_the_sample_batch(world):
    world.create("2026-11-xmas", 100)  # events/api_create_batch.json's batch, above the sync limit
    assert len(world.queued()) == 1
    answer = instrument_batches.handler(load_event("sqs_instrument_batch"), BatchContext())
    assert answer == {"batchItemFailures": []}
    world.check_issued("2026-11-xmas", 100)
    assert world.queued() == []


def test_the_batch_issuer_queues_its_continuation_when_time_runs_short(world):
    world.create("B-SQS", 300)
    (message,) = world.queued()
    answer = instrument_batches.handler(batch_event(message), BatchContext(budget(3)))
    assert answer == {"batchItemFailures": []}
    view = world.batch("B-SQS")
    assert view["status"] == "pending" and 0 < view["issued"] < 300
    (continuation,) = world.queued()
    assert continuation == message

    answer = instrument_batches.handler(batch_event(continuation), BatchContext())
    assert answer == {"batchItemFailures": []}
    world.check_issued("B-SQS", 300)
    assert world.queued() == []
    # a message for a batch that does not exist, or unreadable: dropped, not retried
    unknown = {**message, "batch_id": "B-NONE"}
    assert instrument_batches.handler(batch_event(unknown, "not json"), BatchContext()) == {
        "batchItemFailures": []
    }
    assert world.queued() == []


def test_an_in_call_batch_does_not_read_the_time_left_of_an_earlier_queue_invocation(world):
    """The issuer ran (here with 10 s left: less than run_batch's margin); a small batch posted
    afterwards in the same process is still issued during the call (was: 202, nothing issued)."""
    world.create("B-BG", 100)
    (message,) = world.queued()
    instrument_batches.handler(batch_event(message), BatchContext(10_000))
    assert world.batch("B-BG")["issued"] == 0
    assert world.queued() == [message]
    view = world.create("B-SMALL", 20)
    assert (view["status"], view["issued"]) == ("completed", 20)
    world.check_issued("B-SMALL", 20)


def test_an_in_call_batch_answers_before_the_function_and_api_gateway_give_up(world, monkeypatch):
    """A batch issued during the call, with the deployed InstrumentApi's timeout (28 s), each
    chunk taking 6 s: chunks start while API_MARGIN_MS (5 s) is left, then the rest is handed to
    the queue (202), and the answer comes before the function's timeout and API Gateway's 29 s."""
    from loyalty_engine.handlers import instrument_api
    from loyalty_engine.wiring import API_GATEWAY_TIMEOUT_S, INSTRUMENT_API

    chunk_s = 6.0
    elapsed = [0.0]
    put_instruments = type(instrument_services().series).put_instruments

    def slow_put(self, items):
        elapsed[0] += chunk_s
        return put_instruments(self, items)

    class Deployed(BatchContext):
        function_name = INSTRUMENT_API.name

        def get_remaining_time_in_millis(self) -> int:
            return int((INSTRUMENT_API.timeout_s - elapsed[0]) * 1000)

    monkeypatch.setattr(series_logic, "CHUNK", 5)
    monkeypatch.setattr(type(instrument_services().series), "put_instruments", slow_put)
    reply = call(
        "api_create_batch",
        ADMIN,
        path={"series_id": GIFT},
        body={"batch_id": "B-TIMED", "count": SYNC_LIMIT},
        handler=lambda event, _context: instrument_api.handler(event, Deployed()),
    )
    assert reply.status == 202, reply.body
    assert INSTRUMENT_API.timeout_s < API_GATEWAY_TIMEOUT_S
    # Chunks started at 0, 6, 12 and 18 s (10 s left >= 5 s); at 24 s only 4 s were left: the
    # call answered then, before its 28 s timeout.
    assert elapsed[0] == 4 * chunk_s < INSTRUMENT_API.timeout_s
    assert 0 < reply.body["issued"] < SYNC_LIMIT
    (message,) = world.queued()
    assert message["batch_id"] == "B-TIMED"
