"""Free-form ids with a leading or trailing space are refused (422 `invalid_character`, as a
control character in an id is), in the path and in the body: `"coffee "` and `"coffee"` would be
two rewards a till and an operator cannot tell apart. Nothing says ids are trimmed
(docs/api.md, rewards-and-imports.md: a partner file's cells are, so no stored reward has such
an id). Order and payment ids are natural keys (ASCII letters, digits, `._:-`): a space there
was, and stays, a 422."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_engine.access.models import Caller
from tests.support.api import call

BOTH = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("admin", "shop"))
POS = Caller(group_id="demo", key_id="01JD0000000000000000000008", scopes=("shop",), merchant_id="store-1")
SPACED = ["coffee ", " coffee", "coffee\u00a0", "\u3000coffee", "coffee  "]

PATHS = [  # (event, path parameter)
    ("api_put_reward", "external_id"),
    ("api_get_reward", "external_id"),
    ("api_load_reward_codes", "external_id"),
    ("api_list_reward_codes", "external_id"),
    ("api_burn_reward", "attribution_id"),
]


def _items(table: Any) -> int:
    client, name = table
    return sum(
        1
        for item in client.scan(TableName=name)["Items"]
        if item.get("type", {}).get("S") not in ("audit", "audit_object")
    )


@pytest.mark.parametrize("value", ["coffee ", " coffee", "coffee  "])
@pytest.mark.parametrize(("event", "name"), PATHS)
def test_a_free_id_in_the_path_with_surrounding_spaces_is_refused(
    table: Any, event: str, name: str, value: str
) -> None:
    reply = call(event, BOTH, path={name: value}, headers={"Idempotency-Key": "k-1"})
    assert (reply.status, reply.body["code"]) == (422, "invalid_character"), reply.body
    assert reply.body["details"][0]["field"] == name
    assert "space" in reply.body["details"][0]["message"]
    assert _items(table) == 0


@pytest.mark.parametrize("value", ["coffee\u00a0", "\u3000coffee"])
@pytest.mark.parametrize(("event", "name"), PATHS)
def test_a_unicode_space_around_a_free_id_in_the_path_is_refused_too(
    table: Any, event: str, name: str, value: str
) -> None:
    """The resolver's route template takes word characters and URI punctuation only: such a
    path matches no route (404 `route_not_found`) before any check; refused all the same."""
    reply = call(event, BOTH, path={name: value}, headers={"Idempotency-Key": "k-1"})
    assert (reply.status, reply.body["code"]) in {(422, "invalid_character"), (404, "route_not_found")}
    assert _items(table) == 0


@pytest.mark.parametrize("value", SPACED)
def test_a_reward_id_in_a_buy_with_surrounding_spaces_is_refused(table: Any, value: str) -> None:
    reply = call("api_buy_reward", BOTH, body={"reward_id": value}, headers={"Idempotency-Key": "k-1"})
    assert (reply.status, reply.body["code"]) == (422, "invalid_character"), reply.body
    assert reply.body["details"][0]["field"] == "reward_id"
    assert _items(table) == 0


@pytest.mark.parametrize("value", ["WEB-1 ", " WEB-1", "WEB 1"])
def test_order_and_payment_ids_with_spaces_stay_refused(table: Any, value: str) -> None:
    replies = [
        call("api_return_order", BOTH, path={"order_id": value}),
        call("api_reverse_points_payment", POS, path={"payment_id": value}),
        call("api_earn_order", BOTH, body={**json.loads(_body("api_earn_order")), "order_id": value}),
        call("api_pay_points", POS, body={**json.loads(_body("api_pay_points")), "payment_id": value}),
    ]
    for reply in replies:
        assert reply.status == 422, reply.body
    assert _items(table) == 0


def test_an_inner_space_in_a_free_id_is_still_allowed(table: Any) -> None:
    reply = call("api_get_reward", BOTH, path={"external_id": "coffee cup"})
    assert (reply.status, reply.body["code"]) == (404, "reward_not_found"), reply.body


def _body(event: str) -> str:
    from tests.support.api import load_event

    return str(load_event(event)["body"])
