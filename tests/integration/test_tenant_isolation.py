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
}


def test_openapi_routes_are_the_wired_routes():
    assert sorted((r.method, r.path) for r in API_ROUTES) == ROUTES
    assert set(EVENT_FOR) == set(ROUTES), "add a sample event for the new route"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_other_group_cannot_reach_demo_data(route, member):
    assert call("api_earn_order", SHOP).status == 201
    before = call("api_get_ledger", SHOP).body
    event = load_event(EVENT_FOR[route])
    if route == ("PUT", "/v1/programs/{program_id}"):
        # demo-b may create its own program with the same id: it must not touch demo's
        reply = call("api_put_program", OTHER_GROUP, body={**json.loads(event["body"]), "name": "Intruder"})
        assert reply.status == 201
        assert call("api_get_program", SHOP).body["name"] == "Club Lumière"
    elif route == ("POST", "/v1/programs/{program_id}/members"):
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 404 and reply.body["code"] == "program_not_found"
    else:
        reply = call(EVENT_FOR[route], OTHER_GROUP)
        assert reply.status == 404, reply.body
        assert reply.body["code"] in {"member_not_found", "program_not_found"}
    assert call("api_get_ledger", SHOP).body == before
    assert CARD in json.dumps(call("api_get_member", SHOP).body)


def test_request_without_authorizer_context_is_401(member):
    event = load_event("api_get_member")
    event["requestContext"]["authorizer"] = {}
    from loyalty_engine.handlers import api
    from tests.support.api import LambdaContext

    response = api.handler(event, LambdaContext())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["code"] == "unauthorized"
    assert ADMIN.group_id == "demo"
