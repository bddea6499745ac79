"""An unknown query parameter is refused on every route (422 `unknown_parameter`, naming it),
`?group=` included: the group always comes from the key, and a parameter silently ignored
lets a caller believe it filtered, paged or chose a group when it did not. The parameters a
route declares (its OpenAPI document) still work."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_engine.wiring import PUBLIC_ROUTES
from tests.support.hostile import Hostile
from tests.support.hostile_requests import ROUTES, send

API = [route for route in ROUTES if route not in PUBLIC_ROUTES]


@pytest.mark.parametrize(("method", "path"), API, ids=[f"{m} {p}" for m, p in API])
def test_an_unknown_query_parameter_is_refused_by_name(table: Any, method: str, path: str) -> None:
    for name in ("group", "Limit"):
        status, body = send(method, path, Hostile("query", query={name: "demo-b"}))
        assert (status, body["code"]) == (422, "unknown_parameter"), (method, path, body)
        assert body["details"] == [{"in": "query", "field": name, "reason": "unknown_parameter"}], body
        assert name in body["message"]


def test_declared_parameters_still_work(member: dict) -> None:
    status, body = send("GET", "/v1/programs", Hostile("query", query={"limit": "1"}))
    assert status == 200 and len(body["programs"]) == 1
    status, body = send("GET", "/v1/imports", Hostile("query", query={"file": "a.csv", "state": "queued"}))
    assert status == 200, body
    status, body = send(
        "GET", "/v1/members/{card_code}/ledger", Hostile("query", query={"limit": "5", "group": "x"})
    )
    assert (status, body["code"]) == (422, "unknown_parameter")
