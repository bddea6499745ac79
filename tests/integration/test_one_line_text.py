"""One-line text refuses every control character, tab and line breaks included; free text that
may run over lines (descriptions, an adjustment's comment) keeps tab, LF and CR (api.md,
Hostile input). A refusal is 422 `invalid_character` naming the field, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_engine.access.models import Caller
from tests.support.api import call, load_event

ALL = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("admin", "shop"))

# (sample event, field as details name it, a change of the sample's body putting `text` there)
ONE_LINE = [
    ("api_enrol_member", "customer_ref", lambda b, t: b | {"customer_ref": t}),
    ("api_put_customer", "first_name", lambda b, t: b | {"first_name": t}),
    ("api_put_customer", "last_name", lambda b, t: b | {"last_name": t}),
    ("api_create_api_key", "name", lambda b, t: b | {"name": t}),
    ("api_burn_points", "reason", lambda b, t: b | {"reason": t}),
    ("api_grant_vip_tier", "reason", lambda b, t: b | {"reason": t}),
    ("api_cancel_instrument", "reason", lambda b, t: b | {"reason": t}),
    ("api_buy_reward", "context", lambda b, t: b | {"context": t}),
    ("api_burn_reward", "context", lambda b, t: b | {"context": t}),
    ("api_put_reward", "image_url", lambda b, t: b | {"image_url": t}),
    ("api_put_reward", "custom.c0", lambda b, t: b | {"custom": {"c0": t}}),
    (
        "api_put_program",
        "earning_rules.0.sku",
        lambda b, t: b | {"earning_rules": [{"sku": t, "points_per_unit": 5}]},
    ),
    (
        "api_put_program",
        "earning_rules.0.product_group",
        lambda b, t: b | {"earning_rules": [{"product_group": t, "multiplier": "2"}]},
    ),
    (
        "api_post_backlog",
        "items.1.request.reason",
        lambda b, t: (
            b
            | {
                "items": [
                    b["items"][0],
                    {**b["items"][1], "request": {**b["items"][1]["request"], "reason": t}},
                ]
            }
        ),
    ),
]


def _items(table: Any) -> list[dict[str, Any]]:
    client, name = table
    items = client.scan(TableName=name)["Items"]  # the fixtures' few items: one page
    return sorted((i for i in items if i["type"]["S"] not in ("audit", "audit_object")), key=str)


def _send(event: str, change: Any, text: str, key: str) -> Any:
    body = change(json.loads(load_event(event)["body"]), text)
    return call(event, ALL, body=body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize("text", ["Gold\tcard", "two\nlines", "CR\rhere", "\u2028", "tab at end\t"])
@pytest.mark.parametrize(("event", "field", "change"), ONE_LINE, ids=[f"{e}:{f}" for e, f, _ in ONE_LINE])
def test_one_line_text_refuses_tabs_and_line_breaks(member, table, event, field, change, text) -> None:
    before = _items(table)
    reply = _send(event, change, text, "one-line-1")
    if text == "\u2028":  # a Unicode line separator is not a control character: it is text
        assert reply.body.get("code") != "invalid_character", reply.body
        return
    assert (reply.status, reply.body["code"]) == (422, "invalid_character"), reply.body
    assert field in {d["field"] for d in reply.body["details"]}, reply.body
    assert _items(table) == before


@pytest.mark.parametrize(
    ("event", "change"),
    [
        ("api_put_reward", lambda b, t: b | {"description": t, "rich_description": t}),
        ("api_put_merchant_group", lambda b, t: b | {"description": t}),
        ("api_adjust_points", lambda b, t: b | {"comment": t}),
        ("api_create_webhook", lambda b, t: b | {"description": t}),
    ],
)
def test_free_text_keeps_tabs_and_line_breaks(member, event, change) -> None:
    text = "Line one\r\nline two\tand a tab"
    reply = _send(event, change, text, "free-text-1")
    assert reply.status in (200, 201), reply.body
    shown = [reply.body.get(name) for name in ("description", "comment") if name in reply.body]
    assert shown == [text], reply.body
