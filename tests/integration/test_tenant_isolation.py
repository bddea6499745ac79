"""A key of one loyalty group never reaches another group's data, on any route.

The route list comes from the OpenAPI document, so a new route is covered by default.
The instrument routes (merchants, series, gift cards, customers) get demo data of their own:
another group's call answers 404 (or creates that group's own resource), demo's data stays as
it was, and demo's own call of the same sample event still works.
"""

from __future__ import annotations

import json

import pytest

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.openapi import document, routes
from loyalty_engine.wiring import API_ROUTES, INSTRUMENT_ROUTES
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP
from tests.integration.test_instruments_api import CREDIT, STORE, ok, put_series, seed_sample_number, stored
from tests.support.api import Reply, call, load_event

ROUTES = routes(document())
INSTRUMENT = sorted((r.method, r.path) for r in INSTRUMENT_ROUTES)
POINTS = [route for route in ROUTES if route not in INSTRUMENT]
# demo-b's point-of-sale key, bound to a merchant named as demo's is
OTHER_POS = Caller(
    group_id="demo-b", key_id="01JD0000000000000000000004", scopes=("shop",), merchant_id="store-1"
)
EVENT_FOR = {
    ("PUT", "/v1/programs/{program_id}"): "api_put_program",
    ("GET", "/v1/programs/{program_id}"): "api_get_program",
    ("GET", "/v1/programs"): "api_list_programs",
    ("GET", "/v1/programs/{program_id}/tier-counts"): "api_get_tier_counts",
    ("POST", "/v1/programs/{program_id}/members"): "api_enrol_member",
    ("GET", "/v1/members"): "api_search_members",
    ("GET", "/v1/members/{card_code}"): "api_get_member",
    ("POST", "/v1/members/{card_code}/orders"): "api_earn_order",
    ("POST", "/v1/members/{card_code}/orders/{order_id}/returns"): "api_return_order",
    ("POST", "/v1/members/{card_code}/burns"): "api_burn_points",
    ("POST", "/v1/backlogs"): "api_post_backlog",
    ("GET", "/v1/members/{card_code}/ledger"): "api_get_ledger",
    ("POST", "/v1/members/{card_code}/payments"): "api_pay_points",
    ("POST", "/v1/members/{card_code}/payments/{payment_id}/reversals"): "api_reverse_points_payment",
    ("GET", "/v1/rewards"): "api_list_rewards",
    ("GET", "/v1/rewards/{external_id}"): "api_get_reward",
    ("PUT", "/v1/rewards/{external_id}"): "api_put_reward",
    ("POST", "/v1/rewards/{external_id}/codes"): "api_load_reward_codes",
    ("GET", "/v1/rewards/{external_id}/codes"): "api_list_reward_codes",
    ("POST", "/v1/members/{card_code}/rewards"): "api_buy_reward",
    ("GET", "/v1/members/{card_code}/rewards"): "api_list_member_rewards",
    ("POST", "/v1/members/{card_code}/rewards/{attribution_id}/burns"): "api_burn_reward",
    ("GET", "/v1/imports"): "api_list_imports",
    ("GET", "/v1/imports/{import_id}"): "api_get_import",
    ("GET", "/v1/imports/{import_id}/report"): "api_get_import_report",
    ("POST", "/v1/imports/uploads"): "api_request_upload",
    ("PUT", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): "api_grant_vip_tier",
    ("DELETE", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): "api_remove_vip_tier",
    ("GET", "/v1/members/{card_code}/tier-history"): "api_get_tier_history",
    ("GET", "/v1/group/settings"): "api_get_group_settings",
    ("PUT", "/v1/group/settings"): "api_put_group_settings",
    ("POST", "/v1/api-keys"): "api_create_api_key",
    ("GET", "/v1/api-keys"): "api_list_api_keys",
    ("GET", "/v1/api-keys/{key_id}"): "api_get_api_key",
    ("POST", "/v1/api-keys/{key_id}/rotations"): "api_rotate_api_key",
    ("DELETE", "/v1/api-keys/{key_id}"): "api_revoke_api_key",
    ("GET", "/v1/audit"): "api_list_audit",
    ("POST", "/v1/members/{card_code}/adjustments"): "api_adjust_points",
    ("GET", "/v1/members/{card_code}/timeline"): "api_get_timeline",
    ("GET", "/v1/members/{card_code}/lots"): "api_get_member_lots",
    ("GET", "/v1/members/{card_code}/export"): "api_export_member",
    ("POST", "/v1/members/{card_code}/erasure"): "api_erase_member",
    ("GET", "/v1/customers/{customer_id}/export"): "api_export_customer",
    ("POST", "/v1/customers/{customer_id}/erasure"): "api_erase_customer",
    ("PUT", "/v1/merchant-groups/{merchant_group_id}"): "api_put_merchant_group",
    ("GET", "/v1/merchant-groups/{merchant_group_id}"): "api_get_merchant_group",
    ("GET", "/v1/merchant-groups"): "api_list_merchant_groups",
    ("PUT", "/v1/merchants/{merchant_id}"): "api_put_merchant",
    ("GET", "/v1/merchants/{merchant_id}"): "api_get_merchant",
    ("GET", "/v1/merchants"): "api_list_merchants",
    ("PUT", "/v1/series/{series_id}"): "api_put_series",
    ("GET", "/v1/series/{series_id}"): "api_get_series",
    ("GET", "/v1/series"): "api_list_series",
    ("POST", "/v1/series/{series_id}/batches"): "api_create_batch",
    ("GET", "/v1/series/{series_id}/batches"): "api_list_batches",
    ("GET", "/v1/series/{series_id}/batches/{batch_id}"): "api_get_batch",
    ("POST", "/v1/series/{series_id}/store-credits"): "api_issue_store_credit",
    ("POST", "/v1/instruments/{number}/activations"): "api_activate_gift_card",
    ("POST", "/v1/instruments/{number}/redemptions"): "api_redeem_instrument",
    ("POST", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"): "api_reverse_redemption",
    ("GET", "/v1/instruments/{number}"): "api_lookup_instrument",
    ("GET", "/v1/instruments/{number}/ledger"): "api_instrument_ledger",
    ("POST", "/v1/instruments/{number}/cancellations"): "api_cancel_instrument",
    ("PUT", "/v1/customer-groups/{customer_group_id}"): "api_put_customer_group",
    ("GET", "/v1/customer-groups/{customer_group_id}"): "api_get_customer_group",
    ("GET", "/v1/customer-groups"): "api_list_customer_groups",
    ("GET", "/v1/customer-groups/{customer_group_id}/customers"): "api_list_customer_group_customers",
    ("PUT", "/v1/customers/{customer_id}"): "api_put_customer",
    ("GET", "/v1/customers/{customer_id}"): "api_get_customer",
    ("GET", "/v1/customers"): "api_list_customers",
    ("PUT", "/v1/members/{card_code}/customer"): "api_link_card_customer",
    ("POST", "/v1/webhooks"): "api_create_webhook",
    ("GET", "/v1/webhooks"): "api_list_webhooks",
    ("GET", "/v1/webhooks/{subscription_id}"): "api_get_webhook",
    ("PUT", "/v1/webhooks/{subscription_id}"): "api_replace_webhook",
    ("DELETE", "/v1/webhooks/{subscription_id}"): "api_delete_webhook",
    ("POST", "/v1/webhooks/{subscription_id}/secret-rotations"): "api_rotate_webhook_secret",
    ("GET", "/v1/webhooks/{subscription_id}/deliveries"): "api_list_webhook_deliveries",
    (
        "POST",
        "/v1/webhooks/{subscription_id}/deliveries/{event_id}/redeliveries",
    ): "api_redeliver_webhook_event",
}
NOT_FOUND = {
    "member_not_found",
    "program_not_found",
    "reward_not_found",
    "attribution_not_found",
    "import_not_found",
    "merchant_group_not_found",
    "merchant_not_found",
    "series_not_found",
    "batch_not_found",
    "unknown_series",
    "customer_group_not_found",
    "customer_not_found",
    "api_key_not_found",
    "webhook_not_found",
}
# List routes of the instrument API, with the key of their items in the answer.
INSTRUMENT_LISTS = {
    "api_list_merchant_groups": "merchant_groups",
    "api_list_merchants": "merchants",
    "api_list_customer_groups": "customer_groups",
    "api_list_customers": "customers",
}
# Routes a shop key at a till calls (with a key bound to a merchant).
POS_EVENTS = {
    "api_issue_store_credit",
    "api_activate_gift_card",
    "api_redeem_instrument",
    "api_reverse_redemption",
    "api_lookup_instrument",
    "api_instrument_ledger",
    "api_pay_points",
    "api_reverse_points_payment",
}


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


def _demo_instrument_data() -> None:
    """demo's merchant group, merchant, series `gift` (with the sample batch) and `credit`, the
    sample number sold and partly spent, a store credit, a customer group and a customer linked
    to the member's card: every sample event of the instrument routes, as demo."""
    for name in ("api_put_merchant_group", "api_put_merchant", "api_put_series"):
        ok(call(name, ADMIN))
    ok(put_series("credit", {**CREDIT, "issuer_group": "stores", "acceptor_group": "stores"}))
    seed_sample_number()
    for name in ("api_activate_gift_card", "api_redeem_instrument", "api_issue_store_credit"):
        ok(call(name, STORE))
    for name in ("api_put_customer_group", "api_put_customer"):
        ok(call(name, ADMIN))
    ok(call("api_link_card_customer", ADMIN), 200)
    ok(call("api_create_batch", ADMIN))  # last: moto copies the whole table in each transaction


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


def _demo_items(table) -> list[dict]:
    """Every item of the demo group, as stored."""
    return sorted(
        (i for i in stored(table, None) if i["pk"] == "G#demo" or i["pk"].startswith("G#demo#")),
        key=lambda i: (i["pk"], i["sk"]),
    )


def _not_found(reply: Reply) -> None:
    assert reply.status == 404, reply.body
    assert reply.body["code"] in NOT_FOUND, reply.body


def test_openapi_routes_are_the_wired_routes():
    assert sorted((r.method, r.path) for r in API_ROUTES + INSTRUMENT_ROUTES) == ROUTES
    assert set(EVENT_FOR) == set(ROUTES), "add a sample event for the new route"
    for route, name in EVENT_FOR.items():
        event = load_event(name)
        assert (event["httpMethod"], event["resource"]) == route, name


@pytest.mark.parametrize("route", INSTRUMENT, ids=lambda r: f"{r[0]} {r[1]}")
def test_other_group_cannot_reach_demo_instruments(route, table, member):
    _demo_instrument_data()
    assert ok(call("api_lookup_instrument", STORE), 200)["balance"] == "37.50"
    assert ok(call("api_get_customer", ADMIN), 200)["links"]["card_codes"] == [CARD]
    before = _demo_items(table)
    assert {"G#demo#I#6012000000000011", "G#demo#CU#c-1001", "G#demo#SERIES"} <= {i["pk"] for i in before}
    name = EVENT_FOR[route]
    sent = json.loads(load_event(name)["body"] or "null")
    if name in ("api_put_merchant_group", "api_put_customer_group"):
        # demo-b may create its own with the same id: it must not touch demo's
        assert call(name, OTHER_GROUP, body={**sent, "name": "Intruder"}).status == 201
    elif name == "api_put_merchant":
        # demo's merchant group is not demo-b's; demo's store id is not claimed in demo-b
        reply = call(name, OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "unknown_merchant_group"), reply.body
        assert call(name, OTHER_GROUP, body={**sent, "merchant_groups": []}).status == 201
    elif name == "api_put_series":
        # demo's merchant group is not demo-b's; demo's prefix is free in demo-b
        reply = call(name, OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "unknown_merchant_group"), reply.body
        assert call("api_put_merchant_group", OTHER_GROUP).status == 201
        assert call(name, OTHER_GROUP, body={**sent, "name": "Intruder"}).status == 201
    elif name == "api_put_customer":
        reply = call(name, OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "unknown_customer_group"), reply.body
        assert call(name, OTHER_GROUP, body={**sent, "customer_groups": []}).status == 201
    elif name == "api_list_series":
        assert ok(call(name, OTHER_GROUP), 200) == {"series": []}
    elif name in INSTRUMENT_LISTS:
        # the group is the key's: demo-b lists demo-b's own (none), demo lists its one
        key = INSTRUMENT_LISTS[name]
        assert ok(call(name, OTHER_GROUP), 200) == {key: [], "next_cursor": None}
        assert len(ok(call(name, ADMIN), 200)[key]) == 1
    else:
        _not_found(call(name, OTHER_POS if name in POS_EVENTS else OTHER_GROUP))
    assert _demo_items(table) == before
    # demo's own call of the same sample event works
    reply = call(name, STORE if name in POS_EVENTS else ADMIN)
    assert reply.status in (200, 201), reply.body


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
