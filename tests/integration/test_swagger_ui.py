"""Swagger UI of the OpenAPI document: `GET /v1/docs` on the Api function where the stage asks
for it (SWAGGER_UI, never prod: 404 there), with no key, its assets inline (no CDN); and on the
local gateway, the same page and the committed document, offline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.stack import LocalStack
from loyalty_engine.handlers import api
from loyalty_engine.kernel.settings import forget
from tests.support.api import LambdaContext, load_event

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = json.loads((ROOT / "docs" / "openapi.json").read_text())


def _docs_event(query: dict[str, str] | None = None) -> dict[str, Any]:
    event = load_event("api_list_programs")
    event.update(resource="/v1/docs", path="/v1/docs", httpMethod="GET", body=None)
    event["requestContext"].update(resourcePath="/v1/docs", path="/api/v1/docs", authorizer=None)
    event["headers"] = {"Host": "abc123.execute-api.eu-west-1.amazonaws.com"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    return event


@pytest.fixture
def swagger(monkeypatch: pytest.MonkeyPatch, table) -> Iterator[None]:
    monkeypatch.setenv("SWAGGER_UI", "true")
    forget()
    yield
    forget()


def _content_type(answer: dict[str, Any]) -> str:
    headers = {
        **(answer.get("headers") or {}),
        **{k: v[0] for k, v in (answer.get("multiValueHeaders") or {}).items()},
    }
    return str(headers["Content-Type"])


def _no_external_assets(page: str) -> None:
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)  # inline: works offline
    assert "SwaggerUIBundle" in page


def test_the_page_is_absent_unless_the_stage_asks_for_it(table) -> None:
    answer = api.handler(_docs_event(), LambdaContext())
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"])["code"] == "route_not_found"


def test_the_page_and_document_on_a_stage_with_swagger_ui(swagger: None) -> None:
    page = api.handler(_docs_event(), LambdaContext())
    assert page["statusCode"] == 200 and _content_type(page).startswith("text/html")
    _no_external_assets(page["body"])
    assert '"/v1/members/{card_code}"' in page["body"]
    document = api.handler(_docs_event({"format": "json"}), LambdaContext())
    served = json.loads(document["body"])
    assert served["servers"] == [{"url": "/api"}]  # "Try it out" calls this stage
    assert {**served, "servers": COMMITTED["servers"]} == COMMITTED


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack.start() as running:
        yield running


def test_the_local_gateway_serves_swagger_ui_without_a_key(stack: LocalStack) -> None:
    page = requests.get(f"{stack.api_url}/v1/docs", timeout=60)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    _no_external_assets(page.text)
    document = requests.get(f"{stack.api_url}/v1/docs?format=json", timeout=60)
    assert document.status_code == 200 and document.json() == COMMITTED
    # Every other route still needs a key.
    assert requests.get(f"{stack.api_url}/v1/programs", timeout=60).status_code == 401
