"""Webhook subscriptions, a sample domain event and the attempt log, for the webhook delivery tests
(test_webhooks_delivery.py, test_webhooks_redelivery.py)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from loyalty_engine.events.models import PointsEarned
from loyalty_engine.webhooks import signing
from tests.integration.conftest import ADMIN
from tests.support.api import call
from tests.support.webhooks import WebhookQueues

AT = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def earned(group: str = "demo", event_id: str | None = None, kind: type = PointsEarned) -> PointsEarned:
    return kind(
        event_id=event_id or str(uuid.uuid4()),
        group=group,
        occurred_at=AT,
        recorded_at=AT,
        card_code="2990000000017",
        entry_id="E-1",
        entry_kind="earn",
        reference="order-1",
        nq=120,
        q=120,
        nq_balance=620,
        q_balance=320,
    )


def subscribe(url: str, kinds=("points.earned",), key: str = "hook-1", caller=ADMIN) -> dict:
    reply = call(
        "api_create_webhook",
        caller,
        body={"url": url, "kinds": list(kinds), "description": "test receiver"},
        headers={"Idempotency-Key": key},
    )
    assert reply.status == 201, reply.body
    return reply.body


def sent_once(queues: WebhookQueues, server: Any) -> tuple[dict, PointsEarned, dict]:
    """A subscription of the receiver, sent one event: the hook, the event, its redelivery path."""
    hook = subscribe(server.url)
    event = earned()
    queues.publish(event)
    queues.pump()
    return hook, event, {"subscription_id": hook["subscription_id"], "event_id": event.event_id}


def log_of(hook: dict) -> list[dict]:
    reply = call("api_list_webhook_deliveries", ADMIN, path={"subscription_id": hook["subscription_id"]})
    assert reply.status == 200, reply.body
    return reply.body["deliveries"]


def hook_state(hook: dict) -> dict:
    return call("api_get_webhook", ADMIN, path={"subscription_id": hook["subscription_id"]}).body


def verified(received, secret: str) -> dict:
    header = received.headers["Loyalty-Signature"]
    signing.verify(header, received.body, secret, now=int(time.time()))
    return json.loads(received.body)
