"""Webhook delivery end to end on moto: domain events on the bus -> the rule -> the dispatcher's
queue -> the real dispatcher -> the deliveries' queue -> the real delivery handler -> a receiver
on 127.0.0.1 that verifies the signature. Retries with backoff on 500 and on timeouts, the
dead-letter queue and `failing` after the retry window, SSRF refusal with the deployed stages'
settings, the attempt log and redelivery through the API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from local_stack.runtime import reset_handler_caches
from loyalty_engine.events.models import MemberEnrolled, PointsBurned, PointsEarned
from loyalty_engine.kernel import settings
from loyalty_engine.webhooks import signing
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP
from tests.support.api import Reply, call
from tests.support.webhooks import WebhookQueues, receiver

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


@pytest.fixture
def queues(clock, monkeypatch) -> WebhookQueues:
    return WebhookQueues(monkeypatch)


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


def test_a_signed_event_reaches_the_receiver_once_and_verifies(queues):
    with receiver(answer_text="thanks " + "x" * 300) as server:
        hook = subscribe(server.url)
        other = subscribe(server.url, key="hook-other", caller=OTHER_GROUP)
        event = earned()
        queues.publish(event, earned(kind=PointsBurned), earned(group="demo-c"))
        queues.pump()
        assert len(server.received) == 1
        got = server.received[0]
        detail = verified(got, hook["secret"])
        assert detail == json.loads(event.model_dump_json())
        assert got.headers["Loyalty-Event-Id"] == event.event_id
        assert got.headers["Loyalty-Event-Kind"] == "points.earned"
        assert got.headers["Content-Type"] == "application/json"
        with pytest.raises(signing.SignatureError):
            signing.verify(got.headers["Loyalty-Signature"], got.body, other["secret"], now=int(time.time()))
        queues.publish(event)  # the bus event again (a publisher redelivery): not sent twice
        queues.pump()
        assert len(server.received) == 1
    (attempt,) = log_of(hook)
    assert attempt["event_id"] == event.event_id and attempt["kind"] == "points.earned"
    assert (attempt["attempt"], attempt["status_code"], attempt["succeeded"]) == (1, 200, True)
    assert attempt["error"] is None and attempt["next_attempt_at"] is None
    assert attempt["excerpt"] == ("thanks " + "x" * 300)[:200] and 0 <= attempt["latency_ms"] < 5000


def test_a_500_is_retried_with_backoff_until_it_succeeds(queues):
    with receiver(script=[(500, 0), (503, 0)]) as server:
        hook = subscribe(server.url)
        event = earned()
        queues.publish(event)
        queues.pump()
        assert [r.headers["Loyalty-Event-Id"] for r in server.received] == [event.event_id] * 3
        for received in server.received:
            assert verified(received, hook["secret"])["event_id"] == event.event_id
        gaps = [b.at - a.at for a, b in zip(server.received, server.received[1:], strict=False)]
        assert all(gap >= 0 for gap in gaps)
    log = log_of(hook)
    assert [(a["attempt"], a["status_code"], a["succeeded"]) for a in log] == [
        (3, 200, True),
        (2, 503, False),
        (1, 500, False),
    ]
    assert all(a["next_attempt_at"] is not None for a in log[1:])
    assert log[2]["error"] == "status_code"
    assert hook_state(hook)["status"] == "active"


def test_a_timeout_is_retried(clock, monkeypatch):
    queues = WebhookQueues(monkeypatch, WEBHOOK_TIMEOUT_S="0.3")
    with receiver(script=[(200, 1.0)]) as server:
        hook = subscribe(server.url)
        queues.publish(earned())
        queues.pump()
        assert len(server.received) == 2
    log = log_of(hook)
    assert [(a["attempt"], a["error"], a["status_code"]) for a in log] == [
        (2, None, 200),
        (1, "timeout", None),
    ]
    assert 250 <= log[1]["latency_ms"] < 1000


@contextmanager
def given_up(monkeypatch) -> Iterator[tuple[WebhookQueues, Any, dict, PointsEarned]]:
    """A webhook whose receiver answers 500 for all of a 2 s retry window: its event given up
    (2 s: a first attempt slowed past 1 s on a busy machine left no second one)."""
    queues = WebhookQueues(
        monkeypatch, WEBHOOK_RETRY_WINDOW_S="2", WEBHOOK_RETRY_BASE_S="0.1", WEBHOOK_RETRY_CAP_S="0.3"
    )
    with receiver() as server:
        server.default = (500, 0.0)
        hook = subscribe(server.url)
        event = earned()
        queues.publish(event)
        queues.pump()
        yield queues, server, hook, event


def test_after_the_retry_window_the_event_goes_to_the_dead_letter_queue_and_the_webhook_is_failing(
    clock, monkeypatch
):
    with given_up(monkeypatch) as (queues, server, hook, event):
        tries = len(server.received)
        assert tries >= 2
        (dead,) = queues.dead_letters()
        # the retries cover the window from the first attempt's time (a failure at or past its
        # end gives up; its POST arrived a moment before it failed): not from when the first
        # POST arrived, which a busy machine delays
        assert server.received[-1].at >= dead["first_at"] + 2.0 - 0.5, "retries cover the window"
        assert (dead["event_id"], dead["subscription_id"], dead["attempt"]) == (
            event.event_id,
            hook["subscription_id"],
            tries,
        )
        state = hook_state(hook)
        assert state["status"] == "failing" and state["failing_since"]
        log = log_of(hook)
        assert len(log) == tries and log[0]["next_attempt_at"] is None
        # a later delivery that succeeds makes it active again
        server.default = (200, 0.0)
        queues.publish(earned())
        queues.pump()
        assert hook_state(hook)["status"] == "active"


def test_an_operators_redrive_of_a_dead_letter_sends_the_event_once_more(clock, monkeypatch):
    """The dead letter, put back on the deliveries' queue (SQS's redrive), is sent once, with the
    same event id, though its event was given up; failing again, it is dead-lettered again."""
    with given_up(monkeypatch) as (queues, server, hook, event):
        (dead,) = queues.dead_letters()
        failed = len(server.received)
        queues.redrive(dead)  # still failing: one POST, back to the dead-letter queue
        queues.pump()
        assert len(server.received) == failed + 1
        (dead,) = queues.dead_letters()
        assert dead["redrive"] is True
        server.default = (200, 0.0)
        queues.redrive(dead)
        queues.redrive(dead)  # SQS hands a message out twice now and then: the event is sent once
        queues.pump()
        replayed = server.received[failed + 1 :]
        assert [r.headers["Loyalty-Event-Id"] for r in replayed] == [event.event_id]
        verified(replayed[0], hook["secret"])
        assert queues.dead_letters() == []
        assert hook_state(hook)["status"] == "active"
        assert log_of(hook)[0]["status_code"] == 200 and log_of(hook)[0]["redelivery"] is True
        queues.redrive(dead)  # delivered since: a dead letter redriven late sends nothing
        queues.pump()
        assert len(server.received) == failed + 2


def test_redelivery_on_request_sends_the_event_again_once_per_idempotency_key(queues):
    with receiver() as server:
        hook, event, path = sent_once(queues, server)
        first = call("api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": "again-1"})
        assert first.status == 202 and first.body["queued"] is True, first.body
        repeat = call("api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": "again-1"})
        assert repeat.status == 202 and repeat.body["queued"] is False
        queues.pump()
        assert [r.headers["Loyalty-Event-Id"] for r in server.received] == [event.event_id] * 2
        assert server.received[0].body == server.received[1].body
        assert verified(server.received[1], hook["secret"])
    assert [a["redelivery"] for a in log_of(hook)] == [True, False]


def test_a_redelivery_whose_message_was_not_queued_is_queued_by_its_retry(queues, monkeypatch):
    """The request is noted under its key, then its message queued. If queuing fails (SQS
    unavailable), the retry under the same key queues it, once. If the function stops between
    the two, a retry while it might still be running is 409, and once its minute has passed the
    retry queues it."""
    from loyalty_engine.webhooks import store
    from loyalty_engine.webhooks.queue import DeliveryQueue
    from loyalty_engine.webhooks.store import WebhookStore

    with receiver() as server:
        hook, event, path = sent_once(queues, server)
        send = DeliveryQueue.send

        def unavailable(self, messages, delay_s=0):
            raise ConnectionError("SQS unreachable")

        def redeliver(key: str) -> Reply:
            return call("api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": key})

        monkeypatch.setattr(DeliveryQueue, "send", unavailable)
        with pytest.raises(ConnectionError):
            redeliver("again-1")
        monkeypatch.setattr(DeliveryQueue, "send", send)
        retry = redeliver("again-1")
        assert retry.status == 202 and retry.body["queued"] is True, retry.body
        again = redeliver("again-1")
        assert again.status == 202 and again.body["queued"] is False, again.body

        class Stopped(BaseException):
            """The function killed between noting the request and queuing its message."""

        def stopped(self, messages, delay_s=0):
            raise Stopped

        monkeypatch.setattr(DeliveryQueue, "send", stopped)
        monkeypatch.setattr(WebhookStore, "release_redelivery", lambda *args: None)  # never reached
        with pytest.raises(Stopped):
            redeliver("again-2")
        monkeypatch.setattr(DeliveryQueue, "send", send)
        busy = redeliver("again-2")
        assert (busy.status, busy.body["code"]) == (409, "concurrent_update"), busy.body
        monkeypatch.setattr(store, "REDELIVERY_LEASE_S", -1)  # as if its minute had passed
        late = redeliver("again-2")
        assert late.status == 202 and late.body["queued"] is True, late.body
        queues.pump()
        assert [r.headers["Loyalty-Event-Id"] for r in server.received] == [event.event_id] * 3
    assert [a["redelivery"] for a in log_of(hook)] == [True, True, False]


def test_rotation_grace_signs_with_both_secrets(queues):
    with receiver() as server:
        hook = subscribe(server.url)
        rotated = call(
            "api_rotate_webhook_secret",
            ADMIN,
            path={"subscription_id": hook["subscription_id"]},
            body={"grace_seconds": 3600},
            headers={"Idempotency-Key": "rot-1"},
        )
        assert rotated.status == 201
        queues.publish(earned())
        queues.pump()
        (got,) = server.received
        assert verified(got, hook["secret"]) and verified(got, rotated.body["secret"])


def test_disabled_and_deleted_webhooks_are_sent_nothing(queues):
    with receiver() as server:
        hook = subscribe(server.url)
        path = {"subscription_id": hook["subscription_id"]}
        body = {"url": server.url, "kinds": ["*"], "enabled": False}
        assert call("api_replace_webhook", ADMIN, path=path, body=body).status == 200
        queues.publish(earned())
        queues.pump()
        assert call("api_delete_webhook", ADMIN, path=path).status == 200
        queues.publish(earned())
        queues.pump()
        assert server.received == []


def test_deployed_stage_settings_refuse_loopback_at_delivery_time(queues, monkeypatch):
    with receiver() as server:
        hook = subscribe(server.url)  # made while loopback was allowed (the local stack)
        monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE", "false")
        monkeypatch.setenv("WEBHOOK_RETRY_WINDOW_S", "2")  # refused until the window is over
        settings.forget()
        reset_handler_caches()
        queues.publish(earned())
        queues.pump()
        assert server.received == [], "no connection to a loopback address"
    log = log_of(hook)
    assert log and {a["error"] for a in log} == {"forbidden_address"}
    assert all(a["status_code"] is None for a in log)


def test_a_wait_longer_than_sqs_allows_is_made_of_hops_without_a_post(queues):
    """A message due later than now is sent on with at most 900 s of delay, and not attempted."""
    from loyalty_engine.handlers import webhooks as handlers
    from loyalty_engine.webhooks import delivery
    from loyalty_engine.webhooks.messages import DeliveryMessage
    from loyalty_engine.webhooks.models import DeliveryAttempt

    posted, sent = [], []

    class Queue:
        def send(self, messages, delay_s=0):
            sent.append((messages, delay_s))

        def give_up(self, message):
            raise AssertionError("not given up")

    with receiver() as server:
        hook = subscribe(server.url)
        event = earned()
        svc = handlers.services()
        assert svc.store.put_event(
            "demo", hook["subscription_id"], event.event_id, "points.earned", "{}", 2**31
        )
        now = datetime.now(UTC)
        message = DeliveryMessage(
            group="demo",
            subscription_id=hook["subscription_id"],
            event_id=event.event_id,
            attempt=5,
            first_at=now.timestamp() - 3600,
            due_at=now.timestamp() + 2000,
        )
        outcome = delivery.deliver(svc.store, Queue(), lambda *a: posted.append(a), message, now, svc.policy)
        assert outcome.action == "hop" and posted == [] and server.received == []
        ((hopped, delay),) = sent
        assert hopped == [message] and delay == 900
        # a message for an attempt already made (an SQS redelivery) is dropped
        svc.store.record_attempt(
            "demo",
            hook["subscription_id"],
            DeliveryAttempt(
                event_id=event.event_id,
                kind="points.earned",
                attempt=5,
                status_code=500,
                succeeded=False,
                latency_ms=3,
                at=now,
            ),
            "pending",
            2**31,
            5,
        )
        due_now = message.model_copy(update={"due_at": now.timestamp()})
        outcome = delivery.deliver(svc.store, Queue(), lambda *a: posted.append(a), due_now, now, svc.policy)
        assert outcome.action == "dropped" and posted == []


def test_a_disabled_webhook_cannot_be_asked_for_a_redelivery(queues):
    with receiver() as server:
        hook = subscribe(server.url)
        event = earned()
        queues.publish(event)
        queues.pump()
        path = {"subscription_id": hook["subscription_id"]}
        body = {"url": server.url, "kinds": ["points.earned"], "enabled": False}
        assert call("api_replace_webhook", ADMIN, path=path, body=body).status == 200
        reply = call(
            "api_redeliver_webhook_event",
            ADMIN,
            path={**path, "event_id": event.event_id},
            headers={"Idempotency-Key": "again-2"},
        )
        assert (reply.status, reply.body["code"]) == (409, "webhook_disabled")


def test_a_redelivery_after_the_cards_erasure_leaves_out_its_customer_ref(queues, member):
    """The subscription keeps the member.enrolled event with its customer_ref; after the card's
    erasure, an admin's redelivery sends it without (signed as sent), the first delivery with."""
    enrolled = MemberEnrolled(
        event_id=str(uuid.uuid4()),
        group="demo",
        occurred_at=AT,
        recorded_at=AT,
        card_code=CARD,
        program_id="club",
        customer_ref="crm-ada-lovelace",
        subscribed_at=AT,
    )
    with receiver() as server:
        hook = subscribe(server.url, kinds=("member.enrolled",))
        queues.publish(enrolled)
        queues.pump()
        assert verified(server.received[0], hook["secret"])["customer_ref"] == "crm-ada-lovelace"
        assert call("api_erase_member", ADMIN).status == 200
        path = {"subscription_id": hook["subscription_id"], "event_id": enrolled.event_id}
        again = call(
            "api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": "after-erasure"}
        )
        assert again.status == 202, again.body
        queues.pump()
        assert len(server.received) == 2
        resent = verified(server.received[1], hook["secret"])
        assert resent == {**json.loads(enrolled.model_dump_json()), "customer_ref": None}
        assert "crm-ada-lovelace" not in server.received[1].body.decode()


def test_a_redelivery_queued_but_not_marked_answers_queued_and_sends_once(queues, monkeypatch):
    """The message is sent, then marking the request fails (a throttled write): the answer is
    still 202 queued, so the caller does not retry into a second send."""
    from loyalty_engine.kernel.errors import ServiceUnavailable
    from loyalty_engine.webhooks.store import WebhookStore

    def throttled(*args):
        raise ServiceUnavailable("the database is busy")

    with receiver() as server:
        _hook, event, path = sent_once(queues, server)
        monkeypatch.setattr(WebhookStore, "redelivery_queued", throttled)
        reply = call("api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": "mark-1"})
        assert (reply.status, reply.body["queued"]) == (202, True), reply.body
        queues.pump()
        assert [r.headers["Loyalty-Event-Id"] for r in server.received] == [event.event_id] * 2


def test_a_redelivery_counts_its_retries_from_the_instant_it_was_asked_for(queues, monkeypatch):
    """Its first attempt's instant is taken to the microsecond, as the dispatcher's is (the
    API's clock keeps whole seconds, which cut up to a second off the retry window)."""
    from loyalty_engine.webhooks.queue import DeliveryQueue

    queued: list = []
    send = DeliveryQueue.send

    def keep(self, messages, delay_s=0):
        queued.extend(messages)
        return send(self, messages, delay_s)

    with receiver() as server:
        _hook, _event, path = sent_once(queues, server)
        monkeypatch.setattr(DeliveryQueue, "send", keep)
        before = time.time()
        reply = call("api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": "at-1"})
        after = time.time()
        assert reply.status == 202 and reply.body["queued"] is True, reply.body
    assert [m.redelivery for m in queued] == [True]
    assert before <= queued[0].first_at <= after and queued[0].due_at == queued[0].first_at
