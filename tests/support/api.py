"""Drive the real API handler with the sample events in events/."""

from __future__ import annotations

import copy
import importlib.util
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers import api

EVENTS = Path(__file__).resolve().parents[2] / "events"


@cache
def _template(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(_template(name))


class LambdaContext:
    function_name = "Api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:Api"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def handler_for(event: dict[str, Any]) -> Any:
    """The handler the wiring gives the event's route (the points API or the instrument API)."""
    from loyalty_engine.wiring import INSTRUMENT_ROUTES

    if any(r.method == event["httpMethod"] and r.path == event["resource"] for r in INSTRUMENT_ROUTES):
        from loyalty_engine.handlers import instrument_api

        return instrument_api.handler
    return api.handler


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


def call(
    event_name: str,
    caller: Caller,
    *,
    path: dict[str, str] | None = None,
    body: Any = ...,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    handler: Any = None,
    request_id: str | None = None,
    request_time_ms: int | None = None,
) -> Reply:
    """Call the API handler (or `handler`, e.g. one per thread) with the named sample event,
    overriding what the test sets. Each call gets a request id of its own, as API Gateway
    gives one to each request (`request_id` repeats one: a redelivery)."""
    event = load_event(event_name)
    event["requestContext"]["requestId"] = request_id or str(uuid.uuid4())
    if request_time_ms is not None:
        event["requestContext"]["requestTimeEpoch"] = request_time_ms
    event["requestContext"]["authorizer"] = {"principalId": f"{caller.group_id}/{caller.key_id}"} | (
        authorizer_context(caller)
    )
    if path:
        event["pathParameters"] = {**(event.get("pathParameters") or {}), **path}
        concrete = event["resource"]
        for name, value in event["pathParameters"].items():
            concrete = concrete.replace("{" + name + "}", value)
        event["path"] = concrete
    if body is not ...:
        event["body"] = None if body is None else json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if headers is not None:
        event["headers"] = {**event["headers"], **headers}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    response = (handler or handler_for(event))(event, LambdaContext())
    text = response.get("body") or ""
    return Reply(response["statusCode"], json.loads(text) if text else None, response.get("headers") or {})


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lambda_container(module_name: str = "loyalty_engine.handlers.api") -> Handler:
    """The handler of a fresh copy of an API module, as in a Lambda container of its own.

    A container serves one request at a time, so powertools keeps the current event on the
    BaseRouter *class*: with threads, every resolver would read the event of whichever request
    came last. Each copy pins the event on its own resolver instance, which the class attribute
    cannot then shadow; everything else runs as it is.
    """
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.app
    resolve = app.resolve

    def resolve_in_this_container(event: dict[str, Any], context: Any) -> dict[str, Any]:
        app.current_event = app._to_proxy_event(event)
        app.lambda_context = context
        return resolve(event, context)

    app.resolve = resolve_in_this_container
    return module.handler
