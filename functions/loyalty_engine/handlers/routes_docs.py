"""Swagger UI of the API's OpenAPI document (`GET /v1/docs`; `?format=json`: the document), on
the stages whose settings ask for it (`SWAGGER_UI=true`: dev and the local stack; never prod,
where API Gateway has no such method either, and the handler answers 404 route_not_found).

The page is public (no key: a browser cannot send one to open it); it embeds the document and
Swagger UI's script and style, which powertools ships inside its package: no CDN, it works
offline. "Try it out" calls the API with the key given under "Authorize". The document is
`handlers.openapi.document()` (both API functions' routes), built once per container on the
first call; the server URL is the stage's path, so that calls go to this stage.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from loyalty_engine.kernel.errors import NotFound
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.wiring_routes import DOCS_PATH

_points_app: list[APIGatewayRestResolver] = []  # the Api function's resolver (add_docs_routes)


@cache
def document_json(server_url: str = "/") -> str:
    from loyalty_engine.handlers import instrument_api  # the other function's routes: only here
    from loyalty_engine.handlers.openapi_merge import merged_document

    return json.dumps(merged_document((_points_app[0], instrument_api.app), server_url), sort_keys=True)


@cache
def docs_page(server_url: str = "/") -> str:
    """The Swagger UI page, with the document and Swagger UI's assets inline."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import html

    assets = Path(html.__file__).parent
    return html.generate_swagger_html(
        spec=document_json(server_url).replace("</", "<\\/"),
        swagger_js=(assets / "swagger-ui-bundle.min.js").read_text(),
        swagger_css=(assets / "swagger-ui.min.css").read_text(),
        swagger_base_url="",
        oauth2_config=None,
        persist_authorization=False,
    )


def add_docs_routes(app: APIGatewayRestResolver) -> None:
    _points_app[:] = [app]

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> Response[str]:
        if not load(ApiSettings).swagger_ui:
            raise NotFound("no such route", code="route_not_found")
        event = app.current_event
        # `/api/v1/docs` on API Gateway (the stage's path first), `/v1/docs` elsewhere.
        full_path = str(event.request_context.path or event.path)
        server_url = full_path[: -len(DOCS_PATH)] if full_path.endswith(DOCS_PATH) else ""
        server_url = server_url or "/"
        if (event.query_string_parameters or {}).get("format") == "json":
            return Response(200, content_types.APPLICATION_JSON, document_json(server_url))
        return Response(200, "text/html; charset=utf-8", docs_page(server_url))
