"""The webhooks' workers, as use cases:

- `dispatch`: a domain event from the bus (an EventBridge event, by way of the dispatcher's
  queue) → the group's subscriptions that want its kind (one Query, cached a few seconds) → the event kept once per
  subscription (for redelivery) and one delivery message each.
- `deliver`: one delivery message → the signed POST → the attempt logged → done, or the next
  attempt queued (backoff with full jitter, in hops of at most 900 s), or, past the retry
  window, the message to the dead-letter queue (marked `redrive`: an operator's redrive sends
  it once more if its event is still given up) and the subscription marked `failing`.

A message is attempted once: the event item counts the attempts made, and a message for an
attempt already made (a redelivered SQS message, a dispatch of the same bus event again) is
dropped; a delivered event is not sent again unless an admin asks (a redelivery).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from loyalty_engine.webhooks.http import Answer
from loyalty_engine.webhooks.messages import DeliveryMessage
from loyalty_engine.webhooks.models import DeliveryAttempt, Subscription
from loyalty_engine.webhooks.retries import RetrySchedule, hop_delay
from loyalty_engine.webhooks.signing import (
    EVENT_ID_HEADER,
    EVENT_KIND_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from loyalty_engine.webhooks.store import DELIVERED, GAVE_UP, PENDING, WebhookStore, body_text

Post = Callable[[str, bytes, dict[str, str]], Answer]


class Queue(Protocol):
    def send(self, messages: list[DeliveryMessage], delay_s: int = 0) -> None: ...

    def give_up(self, message: DeliveryMessage) -> None: ...


@dataclass(frozen=True)
class DeliveryPolicy:
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    retention_s: int = 30 * 24 * 3600  # how long events and attempts are kept (their ttl)


class SubscriptionCache:
    """A group's subscriptions, read once per `ttl_s` per container: a burst of a group's events
    (an import's thousands) costs one Query of its partition every few seconds, not one per event.
    A new subscription or a change of kinds is seen within `ttl_s`; a deleted or disabled one
    is dropped by the delivery worker, which reads it fresh."""

    def __init__(self, store: WebhookStore, ttl_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._read: dict[str, tuple[float, list[Subscription]]] = {}

    def of(self, group: str) -> list[Subscription]:
        now = self._clock()
        cached = self._read.get(group)
        if cached is None or now - cached[0] >= self._ttl_s:
            cached = (now, self._store.all(group))
            self._read[group] = cached
        return cached[1]


def dispatch(
    subscriptions: SubscriptionCache,
    store: WebhookStore,
    queue: Queue,
    bus_event: dict[str, Any],
    now: datetime,
    policy: DeliveryPolicy,
) -> int:
    """Queue the event's deliveries; the number of subscriptions it is for."""
    detail = bus_event["detail"]
    group, kind, event_id = str(detail["group"]), str(detail["kind"]), str(detail["event_id"])
    wanted = [subscription for subscription in subscriptions.of(group) if subscription.wants(kind)]
    if not wanted:
        return 0
    body = body_text(detail)
    ttl = int(now.timestamp()) + policy.retention_s
    at = now.timestamp()
    for subscription in wanted:
        store.put_event(group, subscription.subscription_id, event_id, kind, body, ttl)
    queue.send(
        [
            DeliveryMessage(
                group=group,
                subscription_id=subscription.subscription_id,
                event_id=event_id,
                attempt=1,
                first_at=at,
                due_at=at,
            )
            for subscription in wanted
        ]
    )
    return len(wanted)


def _without_erased_data(store: WebhookStore, group: str, kind: str, body: str) -> str:
    """The body to send: a kept event goes out without the personal data an erasure has blanked
    since it was kept (a retry or an admin's redelivery after the erasure; privacy.md): a
    `member.enrolled` event's `customer_ref` and a `vip.granted` / `vip.removed` event's `reason`
    once the card is erased, an `instrument.cancelled` event's `reason` once its movement's is
    blank. One read, for those events only, and only when they hold that data."""
    if kind not in _ERASABLE:
        return body
    detail = json.loads(body)
    field = _ERASABLE[kind]
    if not detail.get(field):
        return body
    if kind == "instrument.cancelled":
        number, entry_no = detail.get("number"), detail.get("entry_no")
        kept = isinstance(number, str) and isinstance(entry_no, int)
        if kept and store.movement_reason(group, number, entry_no) == detail[field]:
            return body
        return body_text({**detail, field: None})
    card_code = detail.get("card_code")
    if not isinstance(card_code, str) or not store.card_erased(group, card_code):
        return body
    return body_text({**detail, field: None})


# The events whose kept copy may hold personal data an erasure blanks, and that field.
_ERASABLE = {
    "member.enrolled": "customer_ref",
    "vip.granted": "reason",
    "vip.removed": "reason",
    "instrument.cancelled": "reason",
}


@dataclass
class Outcome:
    """What `deliver` did with a message (tests and logs)."""

    action: str  # delivered, retry, gave_up, hop, dropped
    answer: Answer | None = None
    reason: str = ""


def deliver(
    store: WebhookStore,
    queue: Queue,
    post: Post,
    message: DeliveryMessage,
    now: datetime,
    policy: DeliveryPolicy,
) -> Outcome:
    group, subscription_id, event_id = message.group, message.subscription_id, message.event_id
    subscription, event = store.for_delivery(group, subscription_id, event_id)
    if subscription is None or not subscription.enabled:
        return Outcome("dropped", reason="the subscription is gone or disabled")
    if event is None:
        return Outcome("dropped", reason="the event has expired")
    if message.redrive:  # an operator's redrive: one copy reopens the given-up event, once
        if not store.reopen(group, subscription_id, event_id):
            return Outcome("dropped", reason="the dead letter's event is no longer given up")
        message = message.model_copy(update={"redrive": False, "redelivery": True})
    if not message.redelivery and (
        event.get("state", PENDING) != PENDING or int(event.get("attempts", 0)) >= message.attempt
    ):
        return Outcome("dropped", reason="this attempt was made already")
    at = now.timestamp()
    if message.due_at > at + 0.5:
        queue.send([message], hop_delay(message.due_at, at))
        return Outcome("hop")
    body = _without_erased_data(store, group, str(event["kind"]), str(event["body"]))
    timestamp = int(at)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(subscription.signing_secrets(now), timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_KIND_HEADER: str(event["kind"]),
    }
    answer = post(subscription.url, body.encode(), headers)
    finished = now if answer.latency_ms < 1000 else datetime.fromtimestamp(at + answer.latency_ms / 1000, UTC)
    due = (
        None
        if answer.succeeded
        else policy.schedule.next_due(message.first_at, finished.timestamp(), message.attempt)
    )
    attempt = DeliveryAttempt(
        event_id=event_id,
        kind=str(event["kind"]),
        attempt=message.attempt,
        status_code=answer.status_code,
        error=answer.error or (None if answer.succeeded else "status_code"),
        succeeded=answer.succeeded,
        latency_ms=answer.latency_ms,
        excerpt=answer.excerpt,
        at=now,
        next_attempt_at=datetime.fromtimestamp(due, UTC) if due is not None else None,
        redelivery=message.redelivery,
    )
    ttl = int(at) + policy.retention_s
    counted = None if message.redelivery else message.attempt
    if answer.succeeded:
        store.record_attempt(group, subscription_id, attempt, DELIVERED, ttl, counted)
        if subscription.status == "failing":
            store.set_status(group, subscription_id, "active", now)
        return Outcome("delivered", answer)
    if due is None:
        # marked: an operator's redrive of the dead letter sends it once more if the event is
        # still given up then (failing again, it goes back to the dead-letter queue)
        queue.give_up(message.model_copy(update={"redrive": True, "redelivery": False}))
        store.record_attempt(group, subscription_id, attempt, GAVE_UP, ttl, counted)
        store.set_status(group, subscription_id, "failing", now)
        return Outcome("gave_up", answer)
    # the next attempt is queued before this one is recorded: a crash between the two makes
    # SQS deliver this message again (one more POST), never loses the retry
    retry = message.model_copy(update={"attempt": message.attempt + 1, "due_at": due})
    queue.send([retry], hop_delay(due, finished.timestamp()))
    store.record_attempt(group, subscription_id, attempt, PENDING, ttl, counted)
    return Outcome("retry", answer)
