"""Hostile input on every route: never a 5xx, never a second reading, nothing written.

Every route of `wiring.API_ROUTES` and `wiring.INSTRUMENT_ROUTES` (so a new route is covered by
default) gets the generated hostile requests of `tests/support/hostile.py` through the real
handlers. Each answer is below 500 and in the error shape; a case the guard decides (deep, too
big, duplicate key, NaN, wrong media type, invalid UTF-8, control characters) is a 4xx with its
code; the table is the same afterwards. The figures (requests per route, 5xx seen) are printed
by the last test and written to `loyalty-hostile-figures.json` in the temp directory.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from loyalty_engine.access.models import Caller
from tests.support.api import LambdaContext, handler_for, load_event
from tests.support.hostile import HOSTILE, Hostile
from tests.support.hostile_requests import (
    ALL_SCOPES,
    REQUESTS,
    ROUTES,
    SERVER_ERRORS,
    hostile_event,
    send,
    takes_body,
    takes_limit,
)

FIGURES = Path(tempfile.gettempdir()) / "loyalty-hostile-figures.json"


# Refused writes of admin and partner keys are recorded in the audit log, by design (api.md).
AUDIT_TYPES = {"audit", "audit_object"}


def _table_items(table: Any) -> list[dict[str, Any]]:
    """Every item but the audit log's."""
    client, name = table
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": name}
    while True:
        page = client.scan(**kwargs)
        items.extend(i for i in page.get("Items", []) if i.get("type", {}).get("S") not in AUDIT_TYPES)
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check_answer(method: str, path: str, case: Hostile, status: int, body: Any) -> None:
    assert status < 500, (method, path, case, status, body)
    decided = case.codes and case.kind != "lax_number"
    must_refuse = decided or (takes_body(method, path) and case.body is not None)
    must_refuse = must_refuse or (case.kind == "query" and takes_limit(method, path))
    if status >= 400 or must_refuse:
        assert 400 <= status < 500, (method, path, case, status, body)
        assert isinstance(body, dict) and {"code", "message"} <= set(body), body
    if decided and status not in (401, 403, 404):
        assert body["code"] in case.codes, (method, path, case, body)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_refuses_hostile_input_and_writes_nothing(
    member: dict, table: Any, method: str, path: str
) -> None:
    before = _table_items(table)

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=HOSTILE)
    def hostile(case: Hostile) -> None:
        status, body = send(method, path, case)
        check_answer(method, path, case, status, body)

    hostile()
    for case in FIXED_CASES:
        status, body = send(method, path, case)
        check_answer(method, path, case, status, body)
    assert _table_items(table) == before


FIXED_CASES = [
    Hostile("deep", body="[" * 5000 + "]" * 5000, codes=frozenset({"body_too_deep"})),
    Hostile("deep", body='{"a":' * 1000 + "1" + "}" * 1000, codes=frozenset({"body_too_deep"})),
    Hostile("duplicate_key", body='{"points": 1, "points": 1000}', codes=frozenset({"duplicate_key"})),
    Hostile("nan", body='{"amount": NaN}', codes=frozenset({"invalid_number"})),
    Hostile("huge", body='{"x": "' + "a" * 300_000 + '"}', codes=frozenset({"payload_too_large"})),
    Hostile(
        "content_type",
        body="{}",
        headers={"Content-Type": "text/plain"},
        codes=frozenset({"unsupported_media_type"}),
    ),
    Hostile(
        "invalid_utf8",
        body=base64.b64encode(b'{"name": "\xff"}').decode(),
        base64=True,
        codes=frozenset({"invalid_encoding"}),
    ),
    Hostile("control_path", path_value="ab\x00c", codes=frozenset({"invalid_character"})),
    Hostile("control_body", body='{"name": "a\\u0000b"}', codes=frozenset({"invalid_character"})),
]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"burn_id": "B-1", "points": True}, "points"),
        ({"burn_id": "B-1", "points": "12"}, "points"),
        ({"burn_id": "B-1", "points": 12.0}, "points"),
        ({"burn_id": "B-1", "points": "\u0661\u0662"}, "points"),
    ],
)
def test_points_are_strict_integers(member: dict, table: Any, body: dict[str, Any], field: str) -> None:
    before = _table_items(table)
    status, answer = send("POST", "/v1/members/{card_code}/burns", Hostile("strict", body=json.dumps(body)))
    assert status == 422, answer
    assert field in {d["field"] for d in answer["details"]}
    assert _table_items(table) == before


@pytest.mark.parametrize(
    ("amount", "code"),
    [("\u0661\u0662.50", "invalid_number"), ("1_000", "invalid_number"), (True, "invalid_number")],
)
def test_amounts_are_read_one_way(member: dict, table: Any, amount: Any, code: str) -> None:
    order = json.loads(load_event("api_earn_order")["body"])
    order.pop("lines", None)
    status, answer = send(
        "POST",
        "/v1/members/{card_code}/orders",
        Hostile("amount", body=json.dumps({**order, "amount": amount})),
    )
    assert status == 422, answer
    assert answer["code"] == code and "amount" in {d["field"] for d in answer["details"]}


@pytest.mark.parametrize("limit", ["1_0", "\u0665", " 5", "true"])
def test_query_integers_are_ascii_digits(member: dict, limit: str) -> None:
    status, answer = send("GET", "/v1/members/{card_code}/ledger", Hostile("query", query={"limit": limit}))
    assert status == 422 and answer["code"] == "invalid_number", answer


def test_control_characters_in_names_are_refused(member: dict, table: Any) -> None:
    program = json.loads(load_event("api_put_program")["body"])
    for name in ("Gold\ntier", "Gold\x00", "Gold\x85"):
        status, answer = send(
            "PUT", "/v1/programs/{program_id}", Hostile("name", body=json.dumps({**program, "name": name}))
        )
        assert status == 422 and answer["code"] == "invalid_character", answer


@pytest.mark.parametrize(
    "content_type", ["application/merge-patch+json", "application/vnd.api+json", "Application/JSON"]
)
def test_json_media_types_the_guard_accepts_reach_the_route(
    member: dict, table: Any, content_type: str
) -> None:
    """`application/*+json` and any case of `application/json` are JSON (api.md, Hostile input):
    the route reads the body, not powertools' own 415 in another shape."""
    before = _table_items(table)
    case = Hostile("media", body='{"burn_id": "B-1", "points": 1}', headers={"Content-Type": content_type})
    status, answer = send("POST", "/v1/members/{card_code}/burns", case)
    assert status == 409 and answer["code"] == "insufficient_points", answer  # the member has no points
    assert _table_items(table) == before


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded"]
)
@pytest.mark.parametrize("body", [None, ""])
def test_a_write_without_a_body_is_422_whatever_its_content_type(
    member: dict, table: Any, content_type: str, body: str | None
) -> None:
    """No body: nothing to read by type. It used to be a 500 (multipart without a boundary) or
    powertools' 415 outside the error shape; it is the missing body's 422."""
    before = _table_items(table)
    case = Hostile("no_body", body=body, headers={"Content-Type": content_type})
    status, answer = send("POST", "/v1/members/{card_code}/burns", case)
    assert status == 422 and answer["code"] == "validation_error", answer
    assert answer["details"][0]["reason"] == "missing", answer
    assert _table_items(table) == before


def test_a_repeated_query_parameter_or_idempotency_key_is_a_clear_422(member: dict, table: Any) -> None:
    """`?limit=1&limit=500` reached the resolver as a list: 422 'Input should be a valid integer'
    (an Idempotency-Key header twice: 'a valid string'). It names the repeated parameter."""
    event = hostile_event(
        "GET", "/v1/members/{card_code}/ledger", Hostile("query", query={"limit": "500"}), ALL_SCOPES
    )
    event["multiValueQueryStringParameters"] = {"limit": ["1", "500"]}
    answer = handler_for(event)(event, LambdaContext())
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["code"]) == (422, "repeated_parameter"), body
    assert body["details"] == [{"in": "query", "field": "limit", "reason": "repeated_parameter"}]

    before = _table_items(table)
    case = Hostile("header", body='{"points": 1}', headers={"Idempotency-Key": "k-2"})
    event = hostile_event("POST", "/v1/members/{card_code}/burns", case, ALL_SCOPES)
    event["multiValueHeaders"]["Idempotency-Key"] = ["k-1", "k-2"]
    answer = handler_for(event)(event, LambdaContext())
    body = json.loads(answer["body"])
    assert (answer["statusCode"], body["code"]) == (422, "repeated_parameter"), body
    assert _table_items(table) == before


@pytest.mark.parametrize("field", ["store_id", "sku", "product_group"])
@pytest.mark.parametrize("char", ["\t", "\n", "\r"])
def test_an_orders_ids_are_one_line(member: dict, table: Any, field: str, char: str) -> None:
    """Ids refuse tab, LF and CR (api.md, Hostile input): a sku 'SKU-1\\n' matched no earning rule
    of 'SKU-1' and earned without it, a store id with a line feed was kept as sent."""
    before = _table_items(table)
    order = json.loads(load_event("api_earn_order")["body"])
    order["lines"] = [{**order["lines"][0], "product_group": "coffee"}, *order["lines"][1:]]
    if field == "store_id":
        order["store_id"] += char
    else:
        order["lines"][0][field] += char
    status, answer = send("POST", "/v1/members/{card_code}/orders", Hostile("id", body=json.dumps(order)))
    assert (status, answer["code"]) == (422, "invalid_character"), answer
    assert _table_items(table) == before


@pytest.mark.parametrize(
    ("method", "resource"), [("POST", "/v1/undeclared"), ("PATCH", "/v1/members/{card_code}/adjustments")]
)
def test_an_event_of_an_undeclared_route_is_refused_not_spared_the_scope_check(
    member: dict, table: Any, method: str, resource: str
) -> None:
    """The scope check looked the key's scopes up by (method, resource) and skipped itself when
    the pair was not a declared route, while the resolver routes by path: a shop key's event for
    the adjustments path under another resource made an admin-only adjustment (201). API Gateway
    only sends declared resources; the function no longer relies on it."""
    before = _table_items(table)
    shop = Caller(group_id="demo", key_id="01JD0000000000000000000002", scopes=("shop",))
    case = Hostile("route", body='{"kind": "nq", "points": 250, "reason_code": "goodwill", "comment": "x"}')
    event = hostile_event("POST", "/v1/members/{card_code}/adjustments", case, shop)
    event["headers"]["Idempotency-Key"] = "adj-undeclared"
    event["multiValueHeaders"]["Idempotency-Key"] = ["adj-undeclared"]
    event["resource"], event["httpMethod"] = resource, method
    answer = handler_for(event)(event, LambdaContext())
    assert answer["statusCode"] == 404, answer
    assert json.loads(answer["body"])["code"] == "route_not_found"
    assert _table_items(table) == before


def test_zz_figures() -> None:
    """The closing figures: hostile requests per route and 5xx seen (the goal is none)."""
    figures = {
        "routes": len(ROUTES),
        "requests": sum(REQUESTS.values()),
        "per_route_min": min(REQUESTS.values(), default=0),
        "per_route": dict(REQUESTS),
        "server_errors": sum(SERVER_ERRORS.values()),
    }
    FIGURES.write_text(json.dumps(figures, indent=2))
    print(json.dumps({k: v for k, v in figures.items() if k != "per_route"}))
    assert figures["server_errors"] == 0


@pytest.mark.parametrize(
    "body", ['[{"first_name": "A"}, 5]', "[{}]", "1e5", "1.5", "null", "[]", '"x"', "7", "true"]
)
@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/v1/customers/{customer_id}"), ("PUT", "/v1/group/settings")]
)
def test_a_body_that_is_not_a_json_object_is_refused(
    member: dict, table: Any, body: str, method, path
) -> None:
    """Every route's body is a JSON object. Powertools read an array as its first item (the rest
    dropped) and a JSON fraction as an object without attributes (all defaults): both were
    stored as if sent as an object. They are a 422 naming the body, and change nothing."""
    before = _table_items(table)
    status, answer = send(method, path, Hostile("not_an_object", body=body))
    assert (status, answer["code"]) == (422, "validation_error"), answer
    assert answer["details"][0]["field"] == "body" and answer["details"][0]["reason"] == "object_expected"
    assert _table_items(table) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/v1/members/{card_code}/vip-tiers/{vip_tier}", '{"reason": "left the company"}'),
        ("DELETE", "/v1/webhooks/{subscription_id}", '{"force": true}'),
        ("GET", "/v1/members/{card_code}", '{"card_code": "2990000000025"}'),
    ],
)
def test_a_body_on_a_route_that_takes_none_is_refused(member: dict, table: Any, method, path, body) -> None:
    """A VIP removal's reason goes in the query (`?reason=`): sent in a body, it was dropped
    without a word and the tier removed without its reason. A body is a 422 where the route
    takes none; an empty one is no body, nor is an empty object (`{}`)."""
    before = _table_items(table)
    status, answer = send(method, path, Hostile("unexpected_body", body=body))
    assert (status, answer["code"]) == (422, "validation_error"), answer
    assert answer["details"][0]["field"] == "body" and answer["details"][0]["reason"] == "body_not_allowed"
    assert _table_items(table) == before
    for nothing in ("", " ", "{}", "{ }"):
        status, answer = send("GET", "/v1/members/{card_code}", Hostile("empty_body", body=nothing))
        assert status == 200, (nothing, answer)
