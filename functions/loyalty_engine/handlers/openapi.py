"""The OpenAPI document, generated from the API handler's routes and models (not used at run time)."""

from __future__ import annotations

from typing import Any

from loyalty_engine.handlers.openapi_merge import TITLE, VERSION, merged_document

__all__ = ["TITLE", "VERSION", "document", "routes"]


def document(server_url: str = "/") -> dict[str, Any]:
    """One document for the API's two functions (points and instruments), merged by powertools."""
    from loyalty_engine.handlers import api, instrument_api

    return merged_document((api.app, instrument_api.app), server_url)


def routes(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation in the document."""
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "put", "post", "patch", "delete"}
    )
