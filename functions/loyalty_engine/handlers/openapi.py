"""The OpenAPI document, generated from the API handler's routes and models (not used at run time)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

from loyalty_engine.handlers import api, instrument_api
from loyalty_engine.handlers.rest import ErrorBody

TITLE = "Loyalty engine API"
VERSION = "1.0.0"


def document(server_url: str = "/") -> dict[str, Any]:
    """One document for the API's two functions (points and instruments), merged by powertools."""
    merged = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=(
            "Points, members, programs, merchants, series, gift cards, store credit, coupons and customers of one loyalty group. The group comes from the API key "
            "(`Authorization: Bearer <key>`); every write is idempotent."
        ),
        servers=[Server(url=server_url)],
        security_schemes={
            "apiKey": APIKey(
                name="Authorization", in_=APIKeyIn.header, description="`Bearer lk.<group>.<id>.<secret>`"
            )
        },
        security=[{"apiKey": []}],
        on_conflict="error",  # a route served by both functions is a wiring mistake
    )
    for app in (api.app, instrument_api.app):
        merged.add_schema(json.loads(app.get_openapi_json_schema()))
    schema: dict[str, Any] = json.loads(merged.get_openapi_json_schema())
    schema["components"]["schemas"]["ErrorBody"] = ErrorBody.model_json_schema()
    return schema


def routes(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation in the document."""
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "put", "post", "patch", "delete"}
    )
