"""Webhooks (`make bench`): what a delivery costs and how long it takes, on moto.

BENCH_WEBHOOK_EVENTS events (default 300) of one group with 2 subscriptions wanting them, put on
the bus as the publisher puts them; the bus's rule, the dispatcher's queue and the deliveries'
queue on moto (in-process), the real WebhookDispatcher and WebhookDelivery handlers fed in the
wiring's batch sizes, and a receiver on 127.0.0.1 answering 200. Figures:

- `delivery_ms_per_event`: time spent in the delivery handler per delivery (POST included);
  `post_ms_per_event`: of which the POST to the receiver (the rest is moto and the handler);
- `requests_per_delivery`: AWS requests the delivery handler makes per delivery (DynamoDB and
  SQS, botocore hooks; Lambda's own receive and delete of the message are not the handler's);
- `dispatch_requests_per_event`: the same for the dispatcher, per event (for 2 subscriptions);
- one 500 then 200: the requests of a failed attempt (its retry's SendMessage included).

Writes `.bench/webhooks.json`.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]
OUT = ROOT / ".bench" / "webhooks.json"
QUICK = os.environ.get("BENCH_QUICK") == "1"


class _Env:
    """What `WebhookQueues` needs of pytest's monkeypatch."""

    def setenv(self, name: str, value: str) -> None:
        os.environ[name] = value


def _event(group: str) -> Any:
    from loyalty_engine.events.models import PointsEarned

    at = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    return PointsEarned(
        event_id=str(uuid.uuid4()),
        group=group,
        occurred_at=at,
        recorded_at=at,
        card_code="2990000000017",
        entry_id="E-1",
        entry_kind="earn",
        nq=120,
        q=120,
        nq_balance=620,
        q_balance=320,
    )


def _counting(calls: Counter[str]) -> None:
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.kernel.objects import sqs_client

    client().meta.events.register(
        "before-call.dynamodb", lambda model, **_: calls.update([f"dynamodb:{model.name}"])
    )
    sqs_client().meta.events.register(
        "before-call.sqs", lambda model, **_: calls.update([f"sqs:{model.name}"])
    )


def measure(events: int) -> dict[str, Any]:
    from moto import mock_aws

    from local_stack.moto_transactions import item_rollback_transactions

    # as the local stack and the other benches: moto rolls back a failed transaction by item
    # instead of copying the table per transaction (a cost growing with the table, not AWS's)
    item_rollback_transactions()

    from tests.integration.conftest import ADMIN
    from tests.support.api import call
    from tests.support.aws import create_table, fresh_caches
    from tests.support.webhooks import WebhookQueues, receiver

    with mock_aws():
        import boto3

        fresh_caches()
        create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        queues = WebhookQueues(_Env(), WEBHOOK_SUBSCRIPTION_CACHE_S="10")  # as deployed
        with receiver() as server:
            for n in range(2):
                body = {"url": server.url, "kinds": ["points.earned"]}
                reply = call(
                    "api_create_webhook", ADMIN, body=body, headers={"Idempotency-Key": f"bench-{n}"}
                )
                assert reply.status == 201, reply.body
            from loyalty_engine.handlers import webhooks

            svc = webhooks.services()  # the clients exist: count their calls from here
            posting = {"s": 0.0}
            real_post = svc.post

            def timed_post(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return real_post(*args, **kwargs)
                finally:
                    posting["s"] += time.perf_counter() - started

            svc.post = timed_post
            dispatch_calls: Counter[str] = Counter()
            delivery_calls: Counter[str] = Counter()
            timings = {"dispatch": 0.0, "delivery": 0.0}
            for name, runtime, calls in (
                ("dispatch", queues.dispatcher, dispatch_calls),
                ("delivery", queues.delivery, delivery_calls),
            ):
                invoke = runtime.invoke

                def timed(
                    event: dict[str, Any], invoke: Any = invoke, name: str = name, calls: Counter[str] = calls
                ) -> Any:
                    before = Counter(ALL)
                    started = time.perf_counter()
                    answer = invoke(event)
                    timings[name] += time.perf_counter() - started
                    calls.update(ALL - before)
                    return answer

                runtime.invoke = timed  # type: ignore[method-assign]
            ALL: Counter[str] = Counter()
            _counting(ALL)
            for start in range(0, events, 10):
                queues.publish(*(_event("demo") for _ in range(min(10, events - start))))
            queues.pump(timeout_s=600)
            deliveries = len(server.received)
            assert deliveries == 2 * events, deliveries
            delivered, dispatched = Counter(delivery_calls), Counter(dispatch_calls)
            post_s = posting["s"]
            server.script = [(500, 0.0)]
            before = Counter(ALL)
            queues.publish(_event("demo"))
            queues.pump()
            failing_calls = ALL - before
    return {
        "events": events,
        "subscriptions": 2,
        "deliveries": deliveries,
        "delivery_ms_per_event": round(1000 * timings["delivery"] / deliveries, 2),
        "post_ms_per_event": round(1000 * post_s / deliveries, 2),
        "dispatch_ms_per_event": round(1000 * timings["dispatch"] / events, 2),
        "requests_per_delivery": round(sum(delivered.values()) / deliveries, 3),
        "delivery_requests": dict(delivered),
        "dispatch_requests_per_event": round(sum(dispatched.values()) / events, 3),
        "dispatch_requests": dict(dispatched),
        "one_event_with_a_500_then_200_for_2_subscriptions": dict(failing_calls),
    }


def run_all() -> dict[str, Any]:
    figures = measure(int(os.environ.get("BENCH_WEBHOOK_EVENTS") or (100 if QUICK else 300)))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps({"webhooks": figures}, indent=2), flush=True)
    return figures


if __name__ == "__main__":
    from bench.processes import BENCH_ENV

    os.environ.update(BENCH_ENV)
    run_all()
