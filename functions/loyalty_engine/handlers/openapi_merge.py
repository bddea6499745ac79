"""The OpenAPI document of resolvers, merged (no API module imported: `routes_docs.py` passes
the Api function's own resolver, `openapi.py` both API modules')."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

from loyalty_engine.handlers.rest import ErrorBody

TITLE = "Loyalty engine API"
VERSION = "1.0.0"


def merged_document(apps: tuple[Any, ...], server_url: str = "/") -> dict[str, Any]:
    """The document of these resolvers (routes_docs passes its own app: no import circle)."""
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
    for app in apps:
        merged.add_schema(json.loads(app.get_openapi_json_schema()))
    schema: dict[str, Any] = json.loads(merged.get_openapi_json_schema())
    schema["components"]["schemas"]["ErrorBody"] = ErrorBody.model_json_schema()
    return schema
