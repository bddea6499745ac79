"""API Gateway (REST) hands the function the request's `path` still percent-encoded and its
`pathParameters` decoded (the local gateway does the same, `local_stack/gateway_routes.py`).
The handlers read path values decoded, as API Gateway gave them: `/v1/rewards/coffee%20cup` is
the reward `coffee cup` (the one a partner file or a buy's `reward_id` names), never a reward
called `coffee%20cup`; and an encoded space around an id is refused as a plain one is."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from loyalty_engine.access.models import Caller
from tests.support.api import LambdaContext, handler_for, load_event

BOTH = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("admin", "shop"))


def _as_api_gateway(event_name: str, **values: str) -> dict[str, Any]:
    from loyalty_engine.access.caller import authorizer_context

    event = load_event(event_name)
    event["requestContext"]["authorizer"] = {"principalId": "demo/x"} | authorizer_context(BOTH)
    event["pathParameters"] = {**(event["pathParameters"] or {}), **values}
    path = event["resource"]
    for name, value in event["pathParameters"].items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    event["path"] = path
    return event


def _send(event: dict[str, Any]) -> tuple[int, Any]:
    import json

    response = handler_for(event)(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_an_encoded_path_value_is_read_decoded(table: Any) -> None:
    put = _as_api_gateway("api_put_reward", external_id="coffee cup")
    status, body = _send(put)
    assert status == 201 and body["external_id"] == "coffee cup", body
    status, body = _send(_as_api_gateway("api_get_reward", external_id="coffee cup"))
    assert status == 200 and body["external_id"] == "coffee cup", body
    status, body = _send(_as_api_gateway("api_get_reward", external_id="café"))
    assert (status, body["code"]) == (404, "reward_not_found") and "café" in body["message"], body


@pytest.mark.parametrize("value", ["coffee ", "coffee\u00a0", "\u3000coffee"])
def test_an_encoded_space_around_an_id_is_refused(table: Any, value: str) -> None:
    status, body = _send(_as_api_gateway("api_put_reward", external_id=value))
    assert (status, body["code"]) == (422, "invalid_character"), body
    assert table[0].scan(TableName=table[1])["Count"] == 0 or all(
        item["type"]["S"].startswith("audit") for item in table[0].scan(TableName=table[1])["Items"]
    )


@pytest.mark.parametrize("value", [".", ".."])
def test_a_dot_segment_is_no_id(table: Any, value: str) -> None:
    """A URL path resolves `.` and `..` away (`/v1/rewards/.` is the list), so a reward or an
    attribution so named could never be read back by id: refused when it would be created."""
    status, body = _send(_as_api_gateway("api_put_reward", external_id=value))
    assert (status, body["code"]) == (422, "validation_error"), body
    for fine in ("...", ".a", "a."):
        status, body = _send(_as_api_gateway("api_put_reward", external_id=fine))
        assert status == 201 and body["external_id"] == fine, body
