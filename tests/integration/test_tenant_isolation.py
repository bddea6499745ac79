"""A key of one loyalty group never reaches another group's data, on any route.

The route list comes from the OpenAPI document, so a new route is covered by default.
The instrument routes (merchants, series, gift cards, customers):
test_tenant_isolation_instruments.py.
"""

from __future__ import annotations

import json

import pytest

from loyalty_engine.wiring import API_ROUTES, INSTRUMENT_ROUTES
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP
from tests.support.api import call, load_event
from tests.support.tenant_isolation import EVENT_FOR, NOT_FOUND, OTHER_POS, POINTS, POS_EVENTS, ROUTES


def _demo_reward_data() -> dict:
    """demo's reward, an attribution of demo's member, and an import job of demo."""
    from datetime import UTC, datetime

    from loyalty_engine.handlers.api_context import default_context
    from loyalty_engine.imports.jobs import ImportJob

    free = {**json.loads(load_event("api_put_reward")["body"]), "nqp_value": 0}
    assert call("api_put_reward", ADMIN, body=free).status == 201
    bought = call("api_buy_reward", SHOP)
    assert bought.status == 201, bought.body
    job_event = load_event("api_get_import")
    file_name = load_event("api_list_imports")["queryStringParameters"]["file"]
    default_context().imports.create_job(
        "demo",
        ImportJob(
            import_id=job_event["pathParameters"]["import_id"],
            file_name=file_name,
            key=f"incoming/demo/{file_name}",
            version="etag",
            size=10,
            received_at=datetime(2026, 12, 10, tzinfo=UTC),
        ),
    )
    return bought.body


def _demo_key() -> dict:
    """demo's API key with the sample events' key id, as an admin sees it."""
    from datetime import UTC, datetime

    from loyalty_engine.access.models import new_api_key
    from loyalty_engine.handlers.api_context import default_context

    key_id = load_event("api_get_api_key")["pathParameters"]["key_id"]
    key, _ = new_api_key(
        key_id=key_id,
        group_id="demo",
        name="till",
        scopes=["shop"],
        merchant_id=None,
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert default_context().groups.add_api_key(key)
    reply = call("api_get_api_key", ADMIN)
    assert reply.status == 200, reply.body
    return reply.body


def _demo_webhook() -> dict:
    """demo's webhook of the sample events, with one event sent to it (the sample event id)."""
    from loyalty_engine.handlers.routes_webhooks import webhook_store

    reply = call("api_create_webhook", ADMIN)
    assert reply.status == 201, reply.body
    event = load_event("api_redeliver_webhook_event")["pathParameters"]
    store = webhook_store()
    assert store.put_event("demo", event["subscription_id"], event["event_id"], "points.earned", "{}", 2**31)
    return _webhook_state()


def _webhook_state() -> dict:
    """demo's webhook as stored (with its secret), and its event's state."""
    from loyalty_engine.handlers.routes_webhooks import webhook_store

    event = load_event("api_redeliver_webhook_event")["pathParameters"]
    stored = webhook_store().get("demo", event["subscription_id"])
    assert stored is not None
    return {
        "subscription_id": stored.subscription_id,
        "stored": stored.model_dump(mode="json"),
        "event": webhook_store().get_event("demo", event["subscription_id"], event["event_id"]),
    }


def test_openapi_routes_are_the_wired_routes():
    assert sorted((r.method, r.path) for r in API_ROUTES + INSTRUMENT_ROUTES) == ROUTES
    assert set(EVENT_FOR) == set(ROUTES), "add a sample event for the new route"
    for route, name in EVENT_FOR.items():
        event = load_event(name)
        assert (event["httpMethod"], event["resource"]) == route, name


@pytest.mark.parametrize("route", POINTS, ids=lambda r: f"{r[0]} {r[1]}")
def test_other_group_cannot_reach_demo_data(route, member):
    assert call("api_earn_order", SHOP).status == 201
    attribution = _demo_reward_data()
    assert call("api_grant_vip_tier", ADMIN).status == 200  # demo's member holds `staff`
    before = call("api_get_ledger", SHOP).body
    history = call("api_get_tier_history", SHOP).body
    assert [change["cause"] for change in history["changes"]] == ["vip_grant"]
    demo_key = _demo_key()
    demo_hook = _demo_webhook()
    event = load_event(EVENT_FOR[route])
    if route == ("PUT", "/v1/programs/{program_id}"):
        # demo-b may create its own program with the same id: it must not touch demo's
        reply = call("api_put_program", OTHER_GROUP, body={**json.loads(event["body"]), "name": "Intruder"})
        assert reply.status == 201
        assert call("api_get_program", SHOP).body["name"] == "Club Lumière"
    elif route == ("POST", "/v1/programs/{program_id}/members"):
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 404 and reply.body["code"] == "program_not_found"
    elif route == ("PUT", "/v1/rewards/{external_id}"):
        reply = call("api_put_reward", OTHER_GROUP, body={**json.loads(event["body"]), "name": "Intruder"})
        assert reply.status == 201
        assert call("api_get_reward", SHOP).body["name"] == "Coffee voucher"
    elif route == ("POST", "/v1/backlogs"):
        # the backlog's items name demo's card: in demo-b each of them is not found
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 200, reply.body
        assert [(r["status"], r["body"]["code"]) for r in reply.body["results"]] == [
            (404, "member_not_found")
        ] * 3
    elif route[1] == "/v1/group/settings":
        # the group is the key's: demo-b reads and writes demo-b's settings, never demo's
        assert call("api_put_group_settings", ADMIN, body={"null_erases": True}).status == 200
        body = {"null_erases": False} if route[0] == "PUT" else ...
        reply = call(EVENT_FOR[route], OTHER_GROUP, body=body)
        defaults = {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None}
        assert (reply.status, reply.body) == (200, defaults), reply.body
        assert call("api_get_group_settings", ADMIN).body == defaults | {"null_erases": True}
    elif route == ("POST", "/v1/imports/uploads"):
        # the file name's universe is the key's group: demo-b may not upload into demo's folder
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "wrong_universe"), reply.body
    elif route == ("POST", "/v1/api-keys"):
        # demo-b's admin makes demo-b's key, even under the Idempotency-Key demo used
        assert call(EVENT_FOR[route], ADMIN).status == 201
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 201 and reply.body["api_key"].startswith("lk.demo-b."), reply.body
        assert len(call("api_list_api_keys", ADMIN).body["keys"]) == 2  # demo's own two, no more
    elif route == ("POST", "/v1/webhooks"):
        # demo-b's admin makes demo-b's webhook under the Idempotency-Key demo used, not demo's
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 201 and reply.body["subscription_id"] != demo_hook["subscription_id"]
        assert [w["subscription_id"] for w in call("api_list_webhooks", ADMIN).body["webhooks"]] == [
            demo_hook["subscription_id"]
        ]
    elif route == ("GET", "/v1/webhooks"):
        assert call(EVENT_FOR[route], OTHER_GROUP).body == {"webhooks": [], "next_cursor": None}
    elif route == ("GET", "/v1/audit"):
        # demo's writes (its VIP grant of the sample card) are in demo's log only
        assert call(EVENT_FOR[route], OTHER_GROUP).body == {"items": [], "next_cursor": None, "next": None}
        assert call(EVENT_FOR[route], OTHER_GROUP, query={}).body == {
            "items": [],
            "next_cursor": None,
            "next": None,
        }
        assert call(EVENT_FOR[route], ADMIN).body["items"], "demo sees its own"
    elif route == ("GET", "/v1/members"):
        # demo's member, linked to demo's customer with the sample e-mail: demo-b finds nothing
        # by e-mail, card prefix or customer id; demo finds it by each
        assert call("api_put_customer", ADMIN, body={"email": "ada@example.com"}).status == 201
        assert call("api_link_card_customer", ADMIN).status == 200
        for sent in (event["queryStringParameters"], {"card_prefix": CARD[:4]}, {"customer_id": "c-1001"}):
            reply = call(EVENT_FOR[route], OTHER_GROUP, query=sent)
            assert reply.body == {"items": [], "next_cursor": None}, reply.body
            assert [m["card_code"] for m in call(EVENT_FOR[route], ADMIN, query=sent).body["items"]] == [CARD]
    elif route in (
        ("GET", "/v1/rewards"),
        ("GET", "/v1/imports"),
        ("GET", "/v1/api-keys"),
        ("GET", "/v1/programs"),
    ):
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 200, reply.body
        empty = (
            {"rewards": [], "next_cursor": None},
            {"imports": [], "next_cursor": None},
            {"keys": [], "next_cursor": None},
            {"programs": [], "next_cursor": None},
        )
        assert reply.body in empty, reply.body
        assert len(next(iter(call(EVENT_FOR[route], ADMIN).body.values()))) == 1  # demo sees its own
    else:
        path = {"attribution_id": attribution["attribution_id"]} if "{attribution_id}" in route[1] else None
        caller = OTHER_POS if EVENT_FOR[route] in POS_EVENTS else OTHER_GROUP
        reply = call(EVENT_FOR[route], caller, path=path)
        assert reply.status == 404, reply.body
        assert reply.body["code"] in NOT_FOUND
    assert call("api_get_ledger", SHOP).body == before
    assert call("api_get_tier_history", SHOP).body == history
    assert CARD in json.dumps(call("api_get_member", SHOP).body)
    assert call("api_get_member", SHOP).body["vip_tiers"] == ["staff"]
    assert call("api_get_api_key", ADMIN).body == demo_key
    assert _webhook_state() == demo_hook


def test_request_without_authorizer_context_is_401(member):
    event = load_event("api_get_member")
    event["requestContext"]["authorizer"] = {}
    from loyalty_engine.handlers import api
    from tests.support.api import LambdaContext

    response = api.handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["code"] == "unauthorized"
    assert ADMIN.group_id == "demo"
