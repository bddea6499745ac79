"""Pre-issue batches on moto, the numbers and the BatchIssuer function: five thousand unique numbers,
two batches disjoint, the issuer completing the sample batch or queuing its continuation, and the
in-call batch answering in time. The world: tests/support/instrument_batches.py."""

from __future__ import annotations

import pytest

from loyalty_engine.handlers import instrument_batches
from loyalty_engine.instruments import series_use_cases as series_logic
from loyalty_engine.instruments.batches import BatchRequest
from loyalty_engine.instruments.context import instrument_services
from tests.support.api import call, load_event
from tests.support.fast_clients import shared_botocore_loader
from tests.support.instrument_batches import SYNC_LIMIT, batch_world, run
from tests.support.instruments import (
    ADMIN,
    GIFT,
    BatchContext,
    batch_event,
    budget,
    instruments_in_table,
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


world = pytest.fixture(batch_world, name="world")


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
