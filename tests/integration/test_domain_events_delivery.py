"""A crash between the stream batch and the bus: the record is delivered again, and its events
keep their ids (consumers dedupe on `event_id`). Real publisher handler, moto stream and bus."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from loyalty_engine.events import bus_store
from loyalty_engine.handlers import events_publisher
from loyalty_engine.kernel.retry import Backoff
from tests.integration.conftest import SHOP
from tests.support.api import call
from tests.support.events import EventCapture
from tests.support.pay_with_points import earn, pay, payments_world, reverse


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_store, "REFUSED", Backoff(base_s=0, cap_s=0))


class Refusing:
    """A bus client that fails every PutEvents (an outage), or refuses every entry."""

    def __init__(self, mode: str):
        self.mode = mode
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.mode == "outage":
            raise ClientError({"Error": {"Code": "InternalException", "Message": "down"}}, "PutEvents")
        return {
            "FailedEntryCount": len(Entries),
            "Entries": [{"ErrorCode": "ThrottlingException"}] * len(Entries),
        }


def enrol_and_earn() -> None:
    assert call("api_enrol_member", SHOP).status == 201
    assert call("api_earn_order", SHOP).status == 201


def flaky_handler(failures: int, mode: str) -> tuple[Any, list[Any]]:
    """The real handler, whose first `failures` invocations meet a failing bus."""
    answers: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        bus = events_publisher.bus()
        real = bus._client
        if len(answers) < failures:
            bus._client = Refusing(mode)
        try:
            answer = events_publisher.handler(event, context)
        finally:
            bus._client = real
        answers.append(answer)
        return answer

    return handler, answers


@pytest.mark.parametrize("mode", ["outage", "refused"])
def test_a_failed_put_fails_the_records_and_the_redelivery_publishes_each_event_once(
    table, program, mode
) -> None:
    handler, answers = flaky_handler(1, mode)
    bus = EventCapture(table[1], handler)
    enrol_and_earn()
    bus.drain()
    first = answers[0]["batchItemFailures"]
    assert first, "the records whose events were refused are reported"
    details = bus.details()
    assert sorted(d["kind"] for d in details) == ["member.enrolled", "points.earned"]
    assert bus.delivery.given_up == []


def test_a_crash_after_the_put_delivers_the_same_event_ids_again(table, program) -> None:
    calls = {"n": 0}

    def crash_once(event: dict[str, Any], context: Any) -> Any:
        answer = events_publisher.handler(event, context)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the function died after PutEvents, before its answer")
        return answer

    bus = EventCapture(table[1], crash_once)
    enrol_and_earn()
    bus.drain()
    envelopes = bus.details()
    kinds = sorted(d["kind"] for d in envelopes)
    # the first invocation's events reached the bus, then the batch was delivered again
    assert kinds.count("member.enrolled") >= 2
    by_id: dict[str, list[dict[str, Any]]] = {}
    for detail in envelopes:
        by_id.setdefault(detail["event_id"], []).append(detail)
    assert sorted(group[0]["kind"] for group in by_id.values()) == ["member.enrolled", "points.earned"]
    assert all(all(d == group[0] for d in group) for group in by_id.values()), (
        "a redelivery is the same event"
    )


def test_a_record_failing_past_its_retries_is_given_up_and_the_shard_moves_on(table, program) -> None:
    handler, _ = flaky_handler(10_000, "outage")
    bus = EventCapture(table[1], handler)
    enrol_and_earn()
    bus.drain()
    assert bus.details() == []
    assert bus.delivery.given_up, "sent to the on-failure queue after the retry attempts"


def test_a_points_payment_and_its_reversal(table) -> None:
    """Paying with points is a burn of points, its reversal gives them back (`entry_kind` says which)."""
    bus = EventCapture(table[1])
    clock = payments_world()  # merchants, the paying program, the member
    earn("SEED", "100.00", clock.now - timedelta(days=20))
    assert pay("P-1", "25.00").status == 201
    assert pay("P-1", "25.00").status in (200, 201)  # a replay: no second event
    burned = bus.details("points.burned")
    assert [(e["entry_kind"], e["nq"], e["reference"]) for e in burned] == [("payment", -250, "P-1")]
    assert reverse("P-1", "R-1").status == 201
    (returned,) = bus.details("points.returned")
    assert (returned["entry_kind"], returned["nq"], returned["nq_balance"]) == ("payment_reversal", 250, 1000)
