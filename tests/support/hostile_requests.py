"""Requests of the hostile-input tests: one event per (route, hostile case), sent through the
real handlers, with the routes' OpenAPI operations and a count of requests and 5xx per route."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.openapi import document
from loyalty_engine.wiring import API_ROUTES, INSTRUMENT_ROUTES
from tests.integration.conftest import CARD
from tests.support.api import LambdaContext, handler_for, load_event
from tests.support.hostile import Hostile

ROUTES = sorted({(r.method, r.path) for r in (*API_ROUTES, *INSTRUMENT_ROUTES)})
ALL_SCOPES = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("admin", "shop"))
POS = Caller(group_id="demo", key_id="01JD0000000000000000000008", scopes=("shop",), merchant_id="store-1")
DOCUMENT = document()
SAMPLE_PATH_VALUES = {"card_code": CARD, "number": "60000000000000001", "import_id": "A" * 26}
REQUESTS: Counter[str] = Counter()
SERVER_ERRORS: Counter[str] = Counter()


def operation(method: str, path: str) -> dict[str, Any]:
    return dict(DOCUMENT["paths"].get(path, {}).get(method.lower(), {}))


def takes_body(method: str, path: str) -> bool:
    return "requestBody" in operation(method, path)


def takes_limit(method: str, path: str) -> bool:
    return any(p.get("name") == "limit" for p in operation(method, path).get("parameters", []))


def hostile_event(method: str, path: str, case: Hostile, caller: Caller) -> dict[str, Any]:
    event = load_event("api_get_member")
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    values = {name: SAMPLE_PATH_VALUES.get(name, "sample-1") for name in names}
    query = dict(case.query or {})
    if case.path_value is not None:
        if names:
            values[names[0]] = case.path_value
        else:
            query["file"] = case.path_value
    concrete = path
    for name, value in values.items():
        concrete = concrete.replace("{" + name + "}", value)
    headers = {**event["headers"], **case.headers}
    event.update(
        resource=path,
        path=concrete,
        httpMethod=method,
        pathParameters=values or None,
        queryStringParameters=query or None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} or None,
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
        body=case.body,
        isBase64Encoded=case.base64,
    )
    event["requestContext"].update(resourcePath=path, httpMethod=method)
    event["requestContext"]["authorizer"] = {"principalId": f"{caller.group_id}/{caller.key_id}"} | (
        authorizer_context(caller)
    )
    return event


def send(method: str, path: str, case: Hostile, caller: Caller = ALL_SCOPES) -> tuple[int, Any]:
    event = hostile_event(method, path, case, caller)
    response = handler_for(event)(copy.deepcopy(event), LambdaContext())
    route = f"{method} {path}"
    REQUESTS[route] += 1
    if response["statusCode"] >= 500:
        SERVER_ERRORS[route] += 1
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None
