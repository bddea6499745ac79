"""The webhooks' admin routes through the real API handler on moto: idempotent create with the
secret shown once, list/read without it, replace, rotate, delete, structured 4xx errors that
change nothing, admin scope only."""

from __future__ import annotations

import json

import pytest

from loyalty_engine.webhooks.models import subscription_id_for
from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call, load_event

SUB = subscription_id_for("demo", "hook-crm-1")
SPEC = json.loads(load_event("api_create_webhook")["body"])


@pytest.fixture
def hook(clock) -> dict:
    reply = call("api_create_webhook", ADMIN)
    assert reply.status == 201, reply.body
    return reply.body


def test_sample_events_name_the_sample_subscription():
    assert load_event("api_get_webhook")["pathParameters"]["subscription_id"] == SUB


def test_create_shows_the_secret_once_and_a_retry_answers_the_same_subscription(hook):
    assert hook["subscription_id"] == SUB
    assert hook["secret"].startswith("whsec_")
    assert (hook["url"], hook["kinds"], hook["status"], hook["enabled"]) == (
        SPEC["url"],
        SPEC["kinds"],
        "active",
        True,
    )
    again = call("api_create_webhook", ADMIN)
    assert again.status == 200 and again.body["secret"] is None
    assert {k: v for k, v in again.body.items() if k != "secret"} == {
        k: v for k, v in hook.items() if k != "secret"
    }
    reused = call("api_create_webhook", ADMIN, body={**SPEC, "kinds": ["*"]})
    assert (reused.status, reused.body["code"]) == (409, "idempotency_key_reused")
    listed = call("api_list_webhooks", ADMIN)
    assert listed.status == 200 and [w["subscription_id"] for w in listed.body["webhooks"]] == [SUB]
    read = call("api_get_webhook", ADMIN)
    assert read.status == 200 and "secret" not in read.body
    assert hook["secret"] not in json.dumps(listed.body) + json.dumps(read.body)


def test_create_without_idempotency_key_or_with_bad_input_is_a_4xx_that_stores_nothing(clock):
    event = load_event("api_create_webhook")
    headers = {k: v for k, v in event["headers"].items() if k != "Idempotency-Key"}
    reply = call("api_create_webhook", ADMIN, headers={**headers, "Idempotency-Key": ""})
    assert reply.status == 422, reply.body
    cases = [
        ({**SPEC, "url": "http://hooks.example.com/in"}, "webhook_url_not_https"),
        ({**SPEC, "url": "https://169.254.169.254/latest"}, "webhook_url_forbidden"),
        ({**SPEC, "url": "https://localhost/in"}, "webhook_url_forbidden"),
        ({**SPEC, "url": "https://[fec0::1]/in"}, "webhook_url_forbidden"),  # IPv6 site-local
        ({**SPEC, "url": "https://\uff11\uff12\uff17.0.0.1/in"}, "webhook_url_forbidden"),  # 127.0.0.1
        ({**SPEC, "kinds": ["points.stolen"]}, "validation_error"),
        ({**SPEC, "secret": "mine"}, "validation_error"),
        ({**SPEC, "kinds": []}, "validation_error"),
    ]
    for n, (body, code) in enumerate(cases):
        reply = call("api_create_webhook", ADMIN, body=body, headers={"Idempotency-Key": f"bad-{n}"})
        assert (reply.status, reply.body["code"]) == (422, code), (body, reply.body)
    assert call("api_list_webhooks", ADMIN).body == {"webhooks": [], "next_cursor": None}


def test_only_admin_keys_reach_the_webhooks(hook):
    for name in ("api_list_webhooks", "api_get_webhook", "api_create_webhook", "api_delete_webhook"):
        reply = call(name, SHOP)
        assert reply.status == 403, (name, reply.body)
    assert call("api_get_webhook", ADMIN).status == 200


def test_replace_changes_the_settings_keeps_the_secret_and_is_idempotent(hook, clock):
    reply = call("api_replace_webhook", ADMIN)
    assert reply.status == 200 and reply.body["kinds"] == ["*"], reply.body
    again = call("api_replace_webhook", ADMIN)
    assert again.body == reply.body
    off = call("api_replace_webhook", ADMIN, body={**SPEC, "enabled": False})
    assert off.body["enabled"] is False
    bad = call("api_replace_webhook", ADMIN, body={**SPEC, "url": "https://10.0.0.8/in"})
    assert (bad.status, bad.body["code"]) == (422, "webhook_url_forbidden")
    assert call("api_get_webhook", ADMIN).body == off.body
    missing = call("api_replace_webhook", ADMIN, path={"subscription_id": subscription_id_for("demo", "x")})
    assert (missing.status, missing.body["code"]) == (404, "webhook_not_found")


def test_rotation_shows_the_new_secret_once_with_a_grace_for_the_old(hook):
    rotated = call("api_rotate_webhook_secret", ADMIN)
    assert rotated.status == 201, rotated.body
    assert rotated.body["secret"].startswith("whsec_") and rotated.body["secret"] != hook["secret"]
    assert rotated.body["previous_secret_until"] is not None
    again = call("api_rotate_webhook_secret", ADMIN)
    assert again.status == 200 and again.body["secret"] is None
    other = call("api_rotate_webhook_secret", ADMIN, body={"grace_seconds": 0})
    assert (other.status, other.body["code"]) == (409, "idempotency_key_reused")
    from loyalty_engine.handlers.routes_webhooks import webhook_store

    stored = webhook_store().get("demo", SUB)
    assert stored is not None and stored.secret == rotated.body["secret"]
    assert stored.previous_secret == hook["secret"]


def test_delete_then_everything_about_it_is_not_found(hook):
    assert call("api_delete_webhook", ADMIN).status == 200
    for name in (
        "api_get_webhook",
        "api_delete_webhook",
        "api_list_webhook_deliveries",
        "api_rotate_webhook_secret",
    ):
        reply = call(name, ADMIN)
        assert (reply.status, reply.body["code"]) == (404, "webhook_not_found"), name
    assert call("api_list_webhooks", ADMIN).body["webhooks"] == []


@pytest.mark.parametrize("body", [SPEC, {**SPEC, "url": "https://other.example.com/in", "kinds": ["*"]}])
def test_a_deleted_webhooks_idempotency_key_creates_nothing_again(hook, body):
    """Its id derives from the key, and its events and delivery log are still kept under that id:
    a new subscription under it would inherit them (and a redelivery would send an old event)."""
    assert call("api_delete_webhook", ADMIN).status == 200
    again = call("api_create_webhook", ADMIN, body=body)
    assert (again.status, again.body["code"]) == (409, "webhook_deleted"), again.body
    assert call("api_get_webhook", ADMIN).status == 404
    assert call("api_list_webhooks", ADMIN).body["webhooks"] == []
    fresh = call("api_create_webhook", ADMIN, headers={"Idempotency-Key": "hook-crm-2"}, body=body)
    assert fresh.status == 201 and fresh.body["subscription_id"] != SUB, fresh.body


def test_delivery_log_is_empty_and_an_unknown_event_cannot_be_redelivered(hook):
    assert call("api_list_webhook_deliveries", ADMIN).body == {"deliveries": [], "next_cursor": None}
    reply = call("api_redeliver_webhook_event", ADMIN)
    assert (reply.status, reply.body["code"]) == (404, "webhook_event_not_found")
    bad = call("api_list_webhook_deliveries", ADMIN, query={"cursor": "bm9wZQ"})
    assert (bad.status, bad.body["code"]) == (422, "invalid_cursor")


def test_list_pages(clock):
    for n in range(3):
        assert call("api_create_webhook", ADMIN, headers={"Idempotency-Key": f"page-{n}"}).status == 201
    first = call("api_list_webhooks", ADMIN, query={"limit": "2"}).body
    assert len(first["webhooks"]) == 2 and first["next_cursor"]
    second = call("api_list_webhooks", ADMIN, query={"limit": "2", "cursor": first["next_cursor"]}).body
    ids = [w["subscription_id"] for w in first["webhooks"] + second["webhooks"]]
    assert len(set(ids)) == 3


def test_a_create_whose_twin_is_deleted_between_its_two_reads_is_409_webhook_deleted(hook, monkeypatch):
    """The create read nothing (its twin had not written yet), its add found the twin's
    subscription, and a delete came before its second read: the key's webhook was deleted, as
    a create after the delete answers; never a 500 (an assert), never a new subscription."""
    from loyalty_engine.webhooks.store import WebhookStore

    real_get = WebhookStore.get
    reads: list[str] = []

    def racing_get(self, group, subscription_id):
        reads.append(subscription_id)
        if len(reads) == 1:
            return None  # the stale first read, before the twin's add
        if len(reads) == 2:
            monkeypatch.setattr(WebhookStore, "get", real_get)
            assert call("api_delete_webhook", ADMIN).status == 200  # in between the two reads
        return real_get(self, group, subscription_id)

    monkeypatch.setattr(WebhookStore, "get", racing_get)
    reply = call("api_create_webhook", ADMIN)
    assert (reply.status, reply.body["code"]) == (409, "webhook_deleted"), reply.body
    assert reads == [SUB, SUB]
    assert call("api_list_webhooks", ADMIN).body["webhooks"] == []
