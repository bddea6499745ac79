"""Webhook delivery end to end on moto: domain events on the bus -> the rule -> the dispatcher's
queue -> the real dispatcher -> the deliveries' queue -> the real delivery handler -> a receiver
on 127.0.0.1 that verifies the signature. Retries with backoff on 500 and on timeouts, the
dead-letter queue and `failing` after the retry window, SSRF refusal with the deployed stages'
settings, the attempt log. Redelivery through the API: test_webhooks_redelivery.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from local_stack.runtime import reset_handler_caches
from loyalty_engine.events.models import PointsBurned, PointsEarned
from loyalty_engine.kernel import settings
from loyalty_engine.webhooks import signing
from tests.integration.conftest import ADMIN, OTHER_GROUP
from tests.support.api import call
from tests.support.webhook_delivery import earned, hook_state, log_of, subscribe, verified
from tests.support.webhooks import WebhookQueues, receiver


@pytest.fixture
def queues(clock, monkeypatch) -> WebhookQueues:
    return WebhookQueues(monkeypatch)


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
