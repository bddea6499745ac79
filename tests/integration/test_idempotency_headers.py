"""The Idempotency-Key header as docs/openapi.json describes it: every route that refuses a
write without one (422 `idempotency_key_required`) says in its document that the header is
required, and what a replay does there (api.md#idempotency), not the optional header's text."""

from __future__ import annotations

import json
import uuid
from functools import cache

import pytest

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.openapi import document
from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import LambdaContext, handler_for, load_event

# the writes whose only key is the header (api.md#idempotency), with a caller allowed to write
REQUIRED = [
    ("api_buy_reward", SHOP),
    ("api_burn_reward", SHOP),
    ("api_adjust_points", ADMIN),
    ("api_create_api_key", ADMIN),
    ("api_rotate_api_key", ADMIN),
    ("api_create_webhook", ADMIN),
    ("api_rotate_webhook_secret", ADMIN),
    ("api_redeliver_webhook_event", ADMIN),
]
SHOWS_A_SECRET = {
    "api_create_api_key",
    "api_rotate_api_key",
    "api_create_webhook",
    "api_rotate_webhook_secret",
}


def without_key(event_name: str, caller: Caller) -> tuple[dict, int, dict]:
    """The sample request without its Idempotency-Key header: the event, the status, the body."""
    event = load_event(event_name)
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["requestContext"]["authorizer"] = {"principalId": f"{caller.group_id}/{caller.key_id}"} | (
        authorizer_context(caller)
    )
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "idempotency-key"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    answer = handler_for(event)(event, LambdaContext())
    return event, answer["statusCode"], json.loads(answer["body"])


@cache
def the_document() -> dict:
    return document()


def header_description(method: str, resource: str) -> str:
    operation = the_document()["paths"][resource][method.lower()]
    (header,) = [p for p in operation.get("parameters", []) if p["in"] == "header"]
    return str(header["schema"]["description"])


@pytest.mark.parametrize(("event_name", "caller"), REQUIRED, ids=[name for name, _ in REQUIRED])
def test_a_route_that_requires_the_header_documents_it_as_required(table, event_name, caller):
    event, status, body = without_key(event_name, caller)
    assert (status, body["code"]) == (422, "idempotency_key_required"), body
    description = header_description(event["httpMethod"], event["resource"])
    assert description.startswith("Required"), description
    assert "natural key" not in description
    if event_name not in SHOWS_A_SECRET:
        assert "secret" not in description, description
