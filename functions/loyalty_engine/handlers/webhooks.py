"""The webhooks' workers (thin): `dispatch` takes the domain events of the dispatcher's queue (an
EventBridge rule on the domain bus sends them there) and queues one delivery per subscription;
`deliver` POSTs one delivery message each and queues its retry. Both report partial batch
failures; an unreadable message is dropped (logged), never retried forever."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from loyalty_engine.handlers.rest import SERVICE
from loyalty_engine.handlers.sqs_batches import process_batch
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.objects import MessageQueue, sqs_client
from loyalty_engine.kernel.settings import WebhookDeliverySettings, WebhookSettings, load
from loyalty_engine.webhooks import delivery
from loyalty_engine.webhooks.http import post
from loyalty_engine.webhooks.messages import DeliveryMessage
from loyalty_engine.webhooks.queue import DeliveryQueue
from loyalty_engine.webhooks.retries import RetrySchedule
from loyalty_engine.webhooks.store import WebhookStore

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="LoyaltyEngine", service=SERVICE)


@dataclass
class Services:
    store: WebhookStore
    queue: DeliveryQueue
    policy: delivery.DeliveryPolicy
    post: delivery.Post
    subscriptions: delivery.SubscriptionCache


@cache
def services() -> Services:
    """The dispatcher's and the delivery worker's (the dispatcher's environment has no dead-letter
    queue: its part of these is unused)."""
    config = load(WebhookDeliverySettings)
    sqs = sqs_client()
    store = WebhookStore(client(), config.table_name)
    dead_letters = MessageQueue(sqs, config.webhook_dlq_url) if config.webhook_dlq_url else None
    return Services(
        store=store,
        queue=DeliveryQueue(MessageQueue(sqs, config.webhook_queue_url), dead_letters),
        policy=delivery.DeliveryPolicy(
            schedule=RetrySchedule(config.retry_base_s, config.retry_cap_s, config.retry_window_s),
            retention_s=config.retention_days * 24 * 3600,
        ),
        post=partial(post, allow_private=config.webhooks_allow_private, timeout_s=config.timeout_s),
        subscriptions=delivery.SubscriptionCache(store, config.subscription_cache_s),
    )


def _dispatch_record(record: SQSRecord) -> None:
    try:
        bus_event = json.loads(record.body)
    except json.JSONDecodeError:
        bus_event = None
    # an explicit check, not an assert (which `python -O` would strip)
    if not isinstance(bus_event, dict) or not isinstance(bus_event.get("detail"), dict):
        logger.error("not a domain event; dropped", extra={"message_id": record.message_id})
        return
    svc = services()
    # to the microsecond (utcnow keeps whole seconds): the retry window runs from this instant
    now = datetime.now(UTC)
    count = delivery.dispatch(svc.subscriptions, svc.store, svc.queue, bus_event, now, svc.policy)
    if count:
        metrics.add_metric(name="WebhookDeliveriesQueued", unit=MetricUnit.Count, value=count)


def _deliver_record(record: SQSRecord) -> None:
    try:
        message = DeliveryMessage.model_validate(json.loads(record.body))
    except (json.JSONDecodeError, ValidationError):
        logger.error("delivery message is unreadable; dropped", extra={"message_id": record.message_id})
        return
    svc = services()
    outcome = delivery.deliver(svc.store, svc.queue, svc.post, message, datetime.now(UTC), svc.policy)
    answer = outcome.answer
    logger.info(
        "webhook delivery",
        extra={
            "group": message.group,
            "subscription_id": message.subscription_id,
            "event_id": message.event_id,
            "attempt": message.attempt,
            "action": outcome.action,
            "status_code": answer.status_code if answer else None,
            "error": answer.error if answer else None,
            "latency_ms": answer.latency_ms if answer else None,
        },
    )
    if outcome.action in ("delivered", "retry", "gave_up"):
        metrics.add_metric(
            name=f"Webhooks{outcome.action.title().replace('_', '')}", unit=MetricUnit.Count, value=1
        )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def dispatch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    load(WebhookSettings)
    return process_batch(event, context, _dispatch_record)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def deliver(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    load(WebhookDeliverySettings)
    return process_batch(event, context, _deliver_record)
