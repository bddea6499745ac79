"""Webhook redelivery through the API, end to end on moto (see test_webhooks_delivery.py): once per
idempotency key, a message that was not queued, a disabled webhook, a card erased since, a
redelivery queued but not marked, the instant its retries count from."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from loyalty_engine.events.models import MemberEnrolled
from tests.integration.conftest import ADMIN, CARD
from tests.support.api import Reply, call, load_event
from tests.support.webhook_delivery import AT, earned, log_of, sent_once, subscribe, verified
from tests.support.webhooks import WebhookQueues, receiver


@pytest.fixture
def queues(clock, monkeypatch) -> WebhookQueues:
    return WebhookQueues(monkeypatch)


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


def _resent_after_erasure(queues, event, kind: str, erase) -> tuple[dict, dict]:
    """The event as first delivered and as redelivered after `erase()`, both verified."""
    with receiver() as server:
        hook = subscribe(server.url, kinds=(kind,))
        queues.publish(event)
        queues.pump()
        first = verified(server.received[0], hook["secret"])
        erase()
        path = {"subscription_id": hook["subscription_id"], "event_id": event.event_id}
        again = call("api_redeliver_webhook_event", ADMIN, path=path, headers={"Idempotency-Key": "erased-1"})
        assert again.status == 202, again.body
        queues.pump()
        assert len(server.received) == 2
        return first, verified(server.received[1], hook["secret"])


def test_a_redelivery_after_the_cards_erasure_leaves_out_its_vip_reason(queues, member):
    """A VIP grant's reason is free text the member's erasure blanks (privacy.md): the kept
    vip.granted event goes out again without it."""
    from loyalty_engine.events.models import VipGranted

    granted = call("api_grant_vip_tier", ADMIN)
    assert granted.status == 200, granted.body
    event = VipGranted(
        event_id=str(uuid.uuid4()),
        group="demo",
        occurred_at=AT,
        recorded_at=AT,
        card_code=CARD,
        vip_tiers=["staff"],
        q_points=0,
        vip_tier="staff",
        reason="store manager, Lyon",
        source="api",
    )
    first, resent = _resent_after_erasure(
        queues, event, "vip.granted", lambda: call("api_erase_member", ADMIN).status == 200 or pytest.fail()
    )
    assert first["reason"] == "store manager, Lyon"
    assert resent == {**json.loads(event.model_dump_json()), "reason": None}


def test_a_redelivery_after_the_customers_erasure_leaves_out_its_cancellation_reason(queues, member):
    """An instrument's cancellation reason is blanked by its customer's erasure (privacy.md): the
    kept instrument.cancelled event goes out again without it; another instrument's keeps it."""
    from loyalty_engine.events.models import InstrumentCancelled
    from tests.support.instruments import CREDIT, POS, build_world, ok

    build_world(series=(CREDIT,))
    customer = {"first_name": "Ada", "customer_groups": []}
    assert call("api_put_customer", ADMIN, body=customer).status == 201
    customer_id = load_event("api_put_customer")["pathParameters"]["customer_id"]
    events = []
    for n, linked in enumerate((True, False)):
        body = {"return_id": f"R-WH-{n}", "amount": "19.90", "currency": "EUR"}
        body |= {"customer_id": customer_id} if linked else {}
        number = ok(call("api_issue_store_credit", POS, path={"series_id": CREDIT}, body=body))["instrument"][
            "number"
        ]
        cancellation = {"cancellation_id": f"CS-WH-{n}", "reason": "Ada says it was stolen"}
        entry = ok(call("api_cancel_instrument", ADMIN, path={"number": number}, body=cancellation))["entry"]
        events.append(
            InstrumentCancelled(
                event_id=str(uuid.uuid4()),
                group="demo",
                occurred_at=AT,
                recorded_at=AT,
                number=number,
                entry_no=entry["entry_no"],
                reference=f"CS-WH-{n}",
                amount_cents=0,
                status_after="cancelled",
                reason="Ada says it was stolen",
            )
        )
    erased = []

    def erase():
        if not erased:
            erased.append(call("api_erase_customer", ADMIN, path={"customer_id": customer_id}).status)

    first, resent = _resent_after_erasure(queues, events[0], "instrument.cancelled", erase)
    assert erased == [200]
    assert first["reason"] == "Ada says it was stolen"
    assert resent == {**json.loads(events[0].model_dump_json()), "reason": None}
    # the instrument sold without the customer keeps its reason (nothing erased it)
    from loyalty_engine.handlers.routes_webhooks import webhook_store
    from loyalty_engine.webhooks.delivery import _without_erased_data
    from loyalty_engine.webhooks.store import body_text

    kept = body_text(json.loads(events[1].model_dump_json()))
    assert _without_erased_data(webhook_store(), "demo", "instrument.cancelled", kept) == kept
