"""Domain events (`make bench`): how fast one publisher publishes, and what the stream costs an earn.

1. Events published per second by one EventsPublisher: BENCH_EVENT_EARNS earns (default 1,000)
   through the API handler on moto (in-process), then the table's stream delivered to the real
   publisher handler in batches of the wiring's size, as the event source mapping would: events
   put on the bus ÷ the time spent in the publisher (stream reads included), and PutEvents
   requests per event.
2. DynamoDB requests per earn on a table with its stream and on one without (botocore hooks):
   the stream must add none (Lambda's stream reads are not table requests).

Writes `.bench/events.json`; `bench/summary.py` takes two headline figures from it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
OUT = ROOT / ".bench" / "events.json"
QUICK = os.environ.get("BENCH_QUICK") == "1"
PUT_EVENTS_MS = 20  # assumed p50 of a PutEvents of 10 entries (as bench/aws_model.py's SQS and S3 calls)
GET_RECORDS_MS = 10


def _earn_body(order_id: str) -> dict[str, Any]:
    earn = json.loads(json.loads((ROOT / "events/api_earn_order.json").read_text())["body"])
    return {**earn, "order_id": order_id, "amount": "12.00", "lines": []}


def _requests_per_earn(stream: bool) -> list[str]:
    """The DynamoDB calls of one warm earn, on a table with or without its stream."""
    import boto3
    from moto import mock_aws

    from loyalty_engine.handlers.api_context import default_context
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.kernel.table import create_table_params, enable_ttl_params
    from tests.integration.conftest import ADMIN, SHOP
    from tests.support.api import call
    from tests.support.aws import fresh_caches
    from tests.support.clock import FakeClock

    with mock_aws():
        fresh_caches()
        raw = boto3.client("dynamodb")
        raw.create_table(**create_table_params(os.environ["TABLE_NAME"], stream=stream))
        raw.update_time_to_live(**enable_ttl_params(os.environ["TABLE_NAME"]))
        default_context().clock = FakeClock()
        assert call("api_put_program", ADMIN).status == 201
        assert call("api_enrol_member", SHOP).status == 201
        assert call("api_earn_order", SHOP, body=_earn_body("warm")).status == 201
        calls: list[str] = []
        client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
        assert call("api_earn_order", SHOP, body=_earn_body("counted")).status == 201
        return calls


def _shared_stream_on_rollback_copies() -> None:
    """moto deep-copies a table, its stream included, before every transaction (to roll it back):
    the earns would slow down with the stream's length. Here the copy shares the stream's records
    (no transaction of the bench is cancelled); DynamoDB has no such cost."""
    import copy

    from moto.dynamodb.models.table import StreamShard

    def shallow(self: Any, memo: dict[int, Any]) -> Any:
        clone = copy.copy(self)
        memo[id(self)] = clone
        return clone

    StreamShard.__deepcopy__ = shallow  # type: ignore[attr-defined]


def publisher_throughput(earns: int) -> dict[str, Any]:
    from moto import mock_aws

    from loyalty_engine.events import bus_store
    from loyalty_engine.handlers.api_context import default_context
    from tests.integration.conftest import ADMIN, SHOP
    from tests.support.api import call
    from tests.support.aws import create_table, fresh_caches
    from tests.support.clock import FakeClock
    from tests.support.events import EventCapture

    _shared_stream_on_rollback_copies()
    with mock_aws():
        fresh_caches()
        import boto3

        create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        capture = EventCapture(os.environ["TABLE_NAME"])
        default_context().clock = FakeClock()
        assert call("api_put_program", ADMIN).status == 201
        cards = [f"EV-{n:04d}" for n in range(50)]
        for card in cards:
            assert call("api_enrol_member", SHOP, body={"card_code": card}).status == 201
        for n in range(earns):
            reply = call(
                "api_earn_order", SHOP, path={"card_code": cards[n % len(cards)]}, body=_earn_body(f"o{n}")
            )
            assert reply.status == 201
        put_events, put_s, handler_s = 0, 0.0, 0.0
        real_client = bus_store.client()
        original = real_client.put_events
        invoke = capture.delivery._invoke

        def counted(**kwargs: Any) -> Any:
            nonlocal put_events, put_s
            put_events += 1
            started = time.perf_counter()
            try:
                return original(**kwargs)
            finally:
                put_s += time.perf_counter() - started

        def timed(event: dict[str, Any]) -> Any:
            nonlocal handler_s
            started = time.perf_counter()
            try:
                return invoke(event)
            finally:
                handler_s += time.perf_counter() - started

        real_client.put_events = counted
        capture.delivery._invoke = timed
        started = time.perf_counter()
        invocations = capture.delivery.pump()
        elapsed = time.perf_counter() - started
        real_client.put_events = original
        assert not capture.delivery.given_up
        events = len(cards) + earns  # one member.enrolled per card, one points.earned per earn
        own_s = handler_s - put_s  # the publisher's own code: mapping, models, JSON, batch processing
        on_aws_s = own_s + put_events * PUT_EVENTS_MS / 1000 + invocations * GET_RECORDS_MS / 1000
        return {
            "earns": earns,
            "events": events,
            "publisher_invocations": invocations,
            "wall_s_on_moto": round(elapsed, 2),
            "events_per_s_on_moto": round(events / elapsed, 1),
            "moto_stream_reads_s": round(elapsed - handler_s, 2),
            "moto_put_events_s": round(put_s, 2),
            "publisher_own_s": round(own_s, 3),
            "events_per_s_publisher_code": round(events / own_s, 1),
            "put_events_requests": put_events,
            "events_per_put_events": round(events / max(put_events, 1), 2),
            "events_per_s_projected_on_aws": round(events / on_aws_s, 1),
            "projection_basis": (
                f"the publisher's own time + {PUT_EVENTS_MS} ms per PutEvents + {GET_RECORDS_MS} ms per "
                "GetRecords (one per invocation), one shard, one call at a time (assumed p50s)"
            ),
        }


def run_all() -> dict[str, Any]:
    earns = int(os.environ.get("BENCH_EVENT_EARNS") or (300 if QUICK else 1000))
    with_stream, without = _requests_per_earn(True), _requests_per_earn(False)
    figures = {
        "publisher": publisher_throughput(earns),
        "earn_requests_with_stream": with_stream,
        "earn_requests_without_stream": without,
        "earn_added_dynamodb_requests": len(with_stream) - len(without),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({"events": figures}, indent=2), flush=True)
    return figures


if __name__ == "__main__":
    from bench.processes import BENCH_ENV

    os.environ.update(BENCH_ENV)
    run_all()
