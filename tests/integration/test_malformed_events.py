"""Events API Gateway never sends, sent anyway (a broken test harness, a direct invoke, another
integration): every API handler answers a structured 4xx, never a 5xx, and writes nothing.

A missing or malformed `requestContext` (or its `authorizer`) is 401 `unauthorized`: the caller
is only ever known from the authorizer's context there, so without it there is no caller, the
answer an empty `requestContext` already had. Any other part of the event of the wrong type
(`httpMethod`, `path`, `headers`, `queryStringParameters`, `body`...) is 400 `malformed_request`.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.models import Caller
from tests.support.api import LambdaContext, handler_for, load_event

ADMIN = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("admin", "shop"))
SHOP = Caller(group_id="demo", key_id="01JD0000000000000000000008", scopes=("shop",))  # not audited
# One route of each API function: a write with a body, and the instrument API's.
EVENTS = ["api_earn_order", "api_put_merchant", "api_get_member"]

Change = Callable[[dict[str, Any]], None]


def _set(name: str, value: Any) -> Change:
    return lambda event: event.__setitem__(name, value)


def _set_context(name: str, value: Any) -> Change:
    return lambda event: event["requestContext"].__setitem__(name, value)


UNAUTHORIZED: dict[str, Change] = {
    "no requestContext": lambda event: event.pop("requestContext"),
    "requestContext null": _set("requestContext", None),
    "requestContext a string": _set("requestContext", "x"),
    "requestContext a list": _set("requestContext", []),
    "authorizer a string": _set_context("authorizer", "x"),
    "authorizer a list": _set_context("authorizer", ["demo"]),
}
MALFORMED: dict[str, Change] = {
    "httpMethod null": _set("httpMethod", None),
    "httpMethod a number": _set("httpMethod", 1),
    "path null": _set("path", None),
    "resource a list": _set("resource", []),
    "pathParameters a string": _set("pathParameters", "x"),
    "queryStringParameters a list": _set("queryStringParameters", ["a"]),
    "a query value a number": _set("queryStringParameters", {"limit": 5}),
    "multiValueQueryStringParameters a string": _set("multiValueQueryStringParameters", "x"),
    "headers a list": _set("headers", ["a"]),
    "a header value a number": _set("headers", {"Content-Type": 1}),
    "multiValueHeaders a list": _set("multiValueHeaders", ["a"]),
    "body an object": _set("body", {"order_id": "o-1"}),
    "isBase64Encoded a string": _set("isBase64Encoded", "yes"),
}


def _event(name: str, caller: Caller = ADMIN) -> dict[str, Any]:
    event = load_event(name)
    event["requestContext"]["authorizer"] = {"principalId": "demo/x"} | authorizer_context(caller)
    return event


def _send(event: dict[str, Any], handler: Any) -> tuple[int, dict[str, Any]]:
    response = handler(copy.deepcopy(event), LambdaContext())
    return response["statusCode"], json.loads(response.get("body") or "null")


@pytest.mark.parametrize("name", EVENTS)
@pytest.mark.parametrize("case", sorted(UNAUTHORIZED))
def test_an_event_without_a_valid_request_context_is_401(table: Any, name: str, case: str) -> None:
    event = _event(name)
    handler = handler_for(event)
    UNAUTHORIZED[case](event)
    status, body = _send(event, handler)
    assert (status, body["code"]) == (401, "unauthorized"), (case, body)
    assert table[0].scan(TableName=table[1])["Count"] == 0


@pytest.mark.parametrize("name", EVENTS)
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_an_event_of_the_wrong_shape_is_400(table: Any, name: str, case: str) -> None:
    event = _event(name)
    handler = handler_for(event)
    MALFORMED[case](event)
    status, body = _send(event, handler)
    assert (status, body["code"]) == (400, "malformed_request"), (case, body)
    assert body["message"]
    assert table[0].scan(TableName=table[1])["Count"] == 0


@pytest.mark.parametrize(
    ("headers", "body", "base64_encoded", "code"),
    [
        (None, '{"order_id": 1', False, "validation_error"),  # headers: null, malformed JSON
        ({"Content-Type": "application/json"}, None, False, "validation_error"),  # body: null
        ({"Content-Type": "application/json"}, "!!not base64!!", True, "invalid_encoding"),
        ({"Content-Type": "application/json"}, "[]", False, "validation_error"),
        ({"Content-Type": "application/json"}, '"x"', False, "validation_error"),
        ({"Content-Type": "application/json"}, "1", False, "validation_error"),
        ({"Content-Type": "application/json"}, "null", False, "validation_error"),
        ({"Content-Type": "application/json"}, '{"amount": 1e400}', False, "invalid_number"),
        ({"Content-Type": "application/json"}, '{"amount": Infinity}', False, "invalid_number"),
        ({"Content-Type": "application/json"}, '{"amount": NaN}', False, "invalid_number"),
        ({"Content-Type": "application/json"}, '{"a": 1, "a": 2}', False, "duplicate_key"),
        ({"Content-Type": "application/json"}, "[" * 100 + "]" * 100, False, "body_too_deep"),
    ],
)
def test_odd_bodies_on_a_post_are_a_clear_4xx(
    table: Any, headers: Any, body: Any, base64_encoded: bool, code: str
) -> None:
    event = _event("api_earn_order", SHOP)
    event.update(headers=headers, multiValueHeaders=None, body=body, isBase64Encoded=base64_encoded)
    status, answer = _send(event, handler_for(event))
    assert 400 <= status < 500 and answer["code"] == code, answer
    assert table[0].scan(TableName=table[1])["Count"] == 0


def test_a_base64_body_that_is_not_base64_says_so(table: Any) -> None:
    event = _event("api_earn_order", SHOP)
    event.update(body="!!not base64!!", isBase64Encoded=True)
    status, answer = _send(event, handler_for(event))
    assert (status, answer["code"]) == (422, "invalid_encoding")
    assert "base64" in answer["message"]
    good = _event("api_earn_order", SHOP)
    good.update(body=base64.b64encode(good["body"].encode()).decode(), isBase64Encoded=True)
    assert _send(good, handler_for(good))[0] == 404  # read as the same JSON: no program yet


@pytest.mark.parametrize("headers", [None, ["Authorization"], "Bearer x", ...])
def test_the_authorizer_refuses_an_event_without_headers_as_unauthorized(table: Any, headers: Any) -> None:
    from loyalty_engine.handlers import authorizer

    event = load_event("authorizer_request")
    if headers is ...:
        del event["headers"]
    else:
        event["headers"] = headers
    with pytest.raises(Exception, match=r"^Unauthorized$"):  # API Gateway's 401, not a 500
        authorizer.handler(event, LambdaContext())


@pytest.mark.parametrize(
    ("text", "position"), [('{"order_id": ', 13), ("{", 1), ('{"a": 1,}', 8), ("nope", 0)]
)
def test_malformed_json_names_the_body_and_gives_the_position_in_the_message(
    table: Any, text: str, position: int
) -> None:
    event = _event("api_earn_order", SHOP)
    event["body"] = text
    status, answer = _send(event, handler_for(event))
    assert (status, answer["code"]) == (422, "validation_error"), answer
    [detail] = answer["details"]
    assert (detail["in"], detail["field"], detail["reason"]) == ("body", "body", "json_invalid"), detail
    assert f"position {position}" in detail["message"], detail
