"""Use cases of a group's webhook subscriptions, for its admins (the API): create, list, read,
replace, delete, rotate the secret, read the delivery log, redeliver one event. The group is
always the caller's; another group's subscription is not found (404 `webhook_not_found`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, IdempotencyKeyReused, NotFound
from loyalty_engine.kernel.idempotency import fingerprint, key_required
from loyalty_engine.webhooks.messages import DeliveryMessage
from loyalty_engine.webhooks.models import (
    MAX_SUBSCRIPTIONS,
    DeliveryAttempt,
    RedeliveryAccepted,
    RotateSecretRequest,
    Subscription,
    SubscriptionSecret,
    SubscriptionSpec,
    SubscriptionView,
    new_subscription,
    replaced,
    rotated,
    subscription_id_for,
    view_of,
)
from loyalty_engine.webhooks.store import WebhookStore
from loyalty_engine.webhooks.urls import check_url

logger = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, messages: list[DeliveryMessage]) -> None: ...


@dataclass(frozen=True)
class UrlPolicy:
    """What the stage allows (the local stack: plain HTTP and loopback receivers)."""

    allow_http: bool = False
    allow_private: bool = False

    def check(self, url: str) -> str:
        return check_url(url, allow_http=self.allow_http, allow_private=self.allow_private)


def webhook_not_found(subscription_id: str) -> NotFound:
    return NotFound(f"webhook {subscription_id!r} not found", code="webhook_not_found")


def _reused(key: str) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        f"Idempotency-Key {key!r} was already used with a different request",
        details=[{"field": "Idempotency-Key", "reason": "idempotency_key_reused"}],
    )


def _subscription(store: WebhookStore, group: str, subscription_id: str) -> Subscription:
    found = store.get(group, subscription_id)
    if found is None:
        raise webhook_not_found(subscription_id)
    return found


def create(
    store: WebhookStore,
    group: str,
    spec: SubscriptionSpec,
    now: datetime,
    policy: UrlPolicy,
    idempotency_key: str | None,
) -> tuple[int, SubscriptionSecret]:
    """201 with the secret (shown once); the same request again under the same Idempotency-Key
    answers 200 with the subscription and no secret; another request under it, 409."""
    if not idempotency_key:
        raise key_required("Idempotency-Key", "header")
    policy.check(spec.url)
    print_ = fingerprint("create_webhook", spec, group=group)
    subscription_id = subscription_id_for(group, idempotency_key)
    existing = store.get(group, subscription_id)
    if existing is None:
        made = new_subscription(subscription_id, spec, now, print_)
        outcome = store.add(group, made)  # with the group's count, in one transaction
        if outcome == "added":
            return 201, SubscriptionSecret(**view_of(made, now).model_dump(), secret=made.secret)
        if outcome == "full":
            raise Conflict(f"a group has at most {MAX_SUBSCRIPTIONS} webhooks", code="too_many_webhooks")
        existing = store.get(group, subscription_id) if outcome == "exists" else None
        if existing is None:  # deleted before the add, or (a concurrent twin's) since it
            raise Conflict(
                f"the webhook created under Idempotency-Key {idempotency_key!r} was deleted: "
                "create a new one under another key",
                code="webhook_deleted",
                details=[{"field": "Idempotency-Key", "reason": "webhook_deleted"}],
            )
    if existing.create_fingerprint != print_:
        raise _reused(idempotency_key)
    return 200, SubscriptionSecret(**view_of(existing, now).model_dump(), secret=None)


def page(
    store: WebhookStore, group: str, limit: int, cursor: str | None, now: datetime
) -> tuple[list[SubscriptionView], str | None]:
    found, next_cursor = store.page(group, limit, cursor)
    return [view_of(subscription, now) for subscription in found], next_cursor


def get(store: WebhookStore, group: str, subscription_id: str, now: datetime) -> SubscriptionView:
    return view_of(_subscription(store, group, subscription_id), now)


def replace(
    store: WebhookStore,
    group: str,
    subscription_id: str,
    spec: SubscriptionSpec,
    now: datetime,
    policy: UrlPolicy,
) -> SubscriptionView:
    """Replace the settings (idempotent: the same settings again change nothing)."""
    policy.check(spec.url)
    current = _subscription(store, group, subscription_id)
    new = replaced(current, spec, now)
    if new is not current:
        store.replace(group, new, current.version)
    return view_of(new, now)


def delete(store: WebhookStore, group: str, subscription_id: str, now: datetime) -> SubscriptionView:
    """Delete it: nothing more is sent to it; its log stays readable until it expires."""
    old = store.delete(group, subscription_id)
    if old is None:
        raise webhook_not_found(subscription_id)
    return view_of(old, now)


def rotate_secret(
    store: WebhookStore,
    group: str,
    subscription_id: str,
    request: RotateSecretRequest,
    now: datetime,
    idempotency_key: str | None,
) -> tuple[int, SubscriptionSecret]:
    """201 and the new secret (shown once); the same request again changes nothing (200, no secret)."""
    if not idempotency_key:
        raise key_required("Idempotency-Key", "header")
    current = _subscription(store, group, subscription_id)
    print_ = fingerprint("rotate_webhook_secret", request, group=group, subscription_id=subscription_id)
    if idempotency_key in current.rotations:
        if current.rotations[idempotency_key] != print_:
            raise _reused(idempotency_key)
        return 200, SubscriptionSecret(**view_of(current, now).model_dump(), secret=None)
    new = rotated(current, request.grace_seconds, now, print_, idempotency_key)
    store.replace(group, new, current.version)
    return 201, SubscriptionSecret(**view_of(new, now).model_dump(), secret=new.secret)


def deliveries(
    store: WebhookStore, group: str, subscription_id: str, limit: int, cursor: str | None
) -> tuple[list[DeliveryAttempt], str | None]:
    _subscription(store, group, subscription_id)
    return store.attempts_page(group, subscription_id, limit, cursor)


def redeliver(
    store: WebhookStore,
    sender: Sender,
    group: str,
    subscription_id: str,
    event_id: str,
    now: datetime,
    idempotency_key: str | None,
    retention_s: int = 30 * 24 * 3600,
    sent_at: float | None = None,
) -> RedeliveryAccepted:
    """Queue one more delivery of an event the subscription was sent (while it is kept). `sent_at`:
    the instant its retries count from, to the microsecond (default: `now`, whole seconds). Under
    the same Idempotency-Key again, nothing more is queued, unless the first request's message
    was never queued (SQS failed, or the function stopped and its minute has passed): then the
    retry queues it. A retry while the first request may still queue it is 409 concurrent_update."""
    if not idempotency_key:
        raise key_required("Idempotency-Key", "header")
    if not _subscription(store, group, subscription_id).enabled:
        raise Conflict("the webhook is disabled: enable it first", code="webhook_disabled")
    if store.get_event(group, subscription_id, event_id) is None:
        raise NotFound(
            f"event {event_id!r} was not sent to webhook {subscription_id!r} (or has expired)",
            code="webhook_event_not_found",
        )
    ttl = int(now.timestamp()) + retention_s
    claim = store.claim_redelivery(
        group, subscription_id, event_id, idempotency_key, ttl, int(now.timestamp())
    )
    if claim == "in_flight":
        raise ConcurrentUpdate(
            f"a redelivery under Idempotency-Key {idempotency_key!r} is being queued: retry in a minute"
        )
    queued = claim == "claimed"
    if queued:
        at = now.timestamp() if sent_at is None else sent_at
        message = DeliveryMessage(
            group=group,
            subscription_id=subscription_id,
            event_id=event_id,
            attempt=1,
            first_at=at,
            due_at=at,
            redelivery=True,
        )
        try:
            sender.send([message])
        except Exception:
            store.release_redelivery(group, subscription_id, event_id, idempotency_key)
            raise
        try:
            store.redelivery_queued(group, subscription_id, event_id, idempotency_key)
        except Exception:  # the message is on its way: answer so (a 5xx would make the caller
            # retry, and past the lease its note, still unmarked, would queue the event again)
            logger.exception("redelivery queued but not marked", extra={"event_id": event_id})
    return RedeliveryAccepted(event_id=event_id, subscription_id=subscription_id, queued=queued)
