"""A key of one loyalty group never reaches another group's data, on any route.

The route list comes from the OpenAPI document, so a new route is covered by default.
"""

from __future__ import annotations

import json

import pytest

from loyalty_engine.handlers.openapi import document, routes
from loyalty_engine.wiring import API_ROUTES
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP
from tests.support.api import call, load_event

ROUTES = routes(document())
EVENT_FOR = {
    ("PUT", "/v1/programs/{program_id}"): "api_put_program",
    ("GET", "/v1/programs/{program_id}"): "api_get_program",
    ("POST", "/v1/programs/{program_id}/members"): "api_enrol_member",
    ("GET", "/v1/members/{card_code}"): "api_get_member",
    ("POST", "/v1/members/{card_code}/orders"): "api_earn_order",
    ("POST", "/v1/members/{card_code}/orders/{order_id}/returns"): "api_return_order",
    ("POST", "/v1/members/{card_code}/burns"): "api_burn_points",
    ("GET", "/v1/members/{card_code}/ledger"): "api_get_ledger",
    ("GET", "/v1/rewards"): "api_list_rewards",
    ("GET", "/v1/rewards/{external_id}"): "api_get_reward",
    ("PUT", "/v1/rewards/{external_id}"): "api_put_reward",
    ("POST", "/v1/members/{card_code}/rewards"): "api_buy_reward",
    ("GET", "/v1/members/{card_code}/rewards"): "api_list_member_rewards",
    ("POST", "/v1/members/{card_code}/rewards/{attribution_id}/burns"): "api_burn_reward",
    ("GET", "/v1/imports"): "api_list_imports",
    ("GET", "/v1/imports/{import_id}"): "api_get_import",
    ("PUT", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): "api_grant_vip_tier",
    ("DELETE", "/v1/members/{card_code}/vip-tiers/{vip_tier}"): "api_remove_vip_tier",
    ("GET", "/v1/members/{card_code}/tier-history"): "api_get_tier_history",
}
NOT_FOUND = {
    "member_not_found",
    "program_not_found",
    "reward_not_found",
    "attribution_not_found",
    "import_not_found",
}


def _demo_reward_data() -> dict:
    """demo's reward, an attribution of demo's member, and an import job of demo."""
    from datetime import UTC, datetime

    from loyalty_engine.domain.import_jobs import ImportJob
    from loyalty_engine.logic.context import default_context

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


def test_openapi_routes_are_the_wired_routes():
    assert sorted((r.method, r.path) for r in API_ROUTES) == ROUTES
    assert set(EVENT_FOR) == set(ROUTES), "add a sample event for the new route"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_other_group_cannot_reach_demo_data(route, member):
    assert call("api_earn_order", SHOP).status == 201
    attribution = _demo_reward_data()
    assert call("api_grant_vip_tier", ADMIN).status == 200  # demo's member holds `staff`
    before = call("api_get_ledger", SHOP).body
    history = call("api_get_tier_history", SHOP).body
    assert [change["cause"] for change in history["changes"]] == ["vip_grant"]
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
    elif route in (("GET", "/v1/rewards"), ("GET", "/v1/imports")):
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 200, reply.body
        assert reply.body in ({"rewards": [], "next_cursor": None}, {"imports": []}), reply.body
        assert len(next(iter(call(EVENT_FOR[route], ADMIN).body.values()))) == 1  # demo sees its own
    else:
        path = {"attribution_id": attribution["attribution_id"]} if "{attribution_id}" in route[1] else None
        reply = call(EVENT_FOR[route], OTHER_GROUP, path=path)
        assert reply.status == 404, reply.body
        assert reply.body["code"] in NOT_FOUND
    assert call("api_get_ledger", SHOP).body == before
    assert call("api_get_tier_history", SHOP).body == history
    assert CARD in json.dumps(call("api_get_member", SHOP).body)
    assert call("api_get_member", SHOP).body["vip_tiers"] == ["staff"]


def test_request_without_authorizer_context_is_401(member):
    event = load_event("api_get_member")
    event["requestContext"]["authorizer"] = {}
    from loyalty_engine.handlers import api
    from tests.support.api import LambdaContext

    response = api.handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["code"] == "unauthorized"
    assert ADMIN.group_id == "demo"
