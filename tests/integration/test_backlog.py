"""A till's backlog (POST /v1/backlogs): orders, returns and burns recorded offline, posted in one
call, applied per member in the order they happened, each exactly once under its own key."""

from __future__ import annotations

from tests.integration.conftest import SHOP
from tests.support.api import call

CARD = "2990000000017"


def _order(order_id: str, at: str, amount: str = "42.00") -> dict:
    return {
        "type": "order",
        "card_code": CARD,
        "order": {"order_id": order_id, "amount": amount, "currency": "EUR", "ordered_at": at},
    }


def _burn(burn_id: str, at: str, points: int) -> dict:
    return {
        "type": "burn",
        "card_code": CARD,
        "burned_at": at,
        "request": {"burn_id": burn_id, "points": points},
    }


def _return(return_id: str, order_id: str, at: str, amount: str) -> dict:
    return {
        "type": "return",
        "card_code": CARD,
        "order_id": order_id,
        "returned_at": at,
        "request": {"return_id": return_id, "amount": amount},
    }


def test_a_backlog_is_applied_per_member_in_the_order_things_happened(member, clock):
    # posted out of order: the burn needs the order's points, the return needs the order
    items = [
        _return("R-1", "O-1", "2026-11-21T16:00:00Z", "10.00"),
        _burn("B-1", "2026-11-21T12:00:00Z", 100),
        _order("O-1", "2026-11-20T10:00:00Z"),  # 420 NQ points, available after 14 days
        {
            "type": "order",
            "card_code": "NOT-A-MEMBER",
            "order": _order("O-X", "2026-11-20T10:00:00Z")["order"],
        },
    ]
    reply = call("api_post_backlog", SHOP, body={"items": items})
    assert reply.status == 200, reply.body
    results = reply.body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [(r["type"], r["status"]) for r in results] == [
        ("return", 201),
        ("burn", 201),
        ("order", 201),
        ("order", 404),
    ]
    assert results[3]["body"]["code"] == "member_not_found"
    assert results[0]["body"]["reversed"]["nq"] == 100  # floor(420 x 10 / 42)
    assert (reply.body["applied"], reply.body["refused"]) == (3, 1)
    kinds = [entry["kind"] for entry in call("api_get_ledger", SHOP).body["entries"]]
    assert kinds == ["return", "burn", "earn"]  # newest first: earn, then burn, then return
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 420 - 100 - 100


def test_a_backlog_posted_again_changes_nothing_and_gets_the_same_answers(member, clock):
    items = [_order("O-1", "2026-11-20T10:00:00Z"), _burn("B-1", "2026-11-21T12:00:00Z", 20)]
    first = call("api_post_backlog", SHOP, body={"items": items})
    again = call("api_post_backlog", SHOP, body={"items": items})
    assert again.body == first.body
    assert len(call("api_get_ledger", SHOP).body["entries"]) == 2
    # an item whose key is reused with another body is refused alone
    changed = call("api_post_backlog", SHOP, body={"items": [_burn("B-1", "2026-11-21T12:00:00Z", 21)]})
    assert changed.body["results"][0]["status"] == 409


def test_a_backlog_must_key_every_item_and_stay_within_its_size(member, clock):
    unkeyed = {
        "type": "burn",
        "card_code": CARD,
        "burned_at": "2026-11-21T12:00:00Z",
        "request": {"points": 5},
    }
    reply = call("api_post_backlog", SHOP, body={"items": [unkeyed]})
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    too_many = [_order(f"O-{n}", "2026-11-20T10:00:00Z") for n in range(101)]
    assert call("api_post_backlog", SHOP, body={"items": too_many}).status == 422
    assert call("api_get_ledger", SHOP).body["entries"] == []


def test_a_refused_item_names_its_field_as_the_body_holds_it(member):
    """`details[].field` is the path in the body sent (`items.1.request.burn_id`), without the
    item type that pydantic's tagged union adds to its location (`items.1.burn.request...`)."""
    items = [
        {**_order("o-1", "2026-12-09T10:15:00+01:00"), "card_code": "bad code"},
        _burn("bad id!", "2026-12-09T11:00:00+01:00", 10),
        {**_return("r-1", "o-1", "2026-12-09T12:00:00+01:00", "1.00"), "order_id": ""},
    ]
    items[0]["order"]["currency"] = "euro"
    reply = call("api_post_backlog", SHOP, body={"items": items})
    assert reply.status == 422, reply.body
    assert {d["field"] for d in reply.body["details"]} == {
        "items.0.card_code",
        "items.0.order.currency",
        "items.1.request.burn_id",
        "items.2.order_id",
    }, reply.body
    unknown = call(
        "api_post_backlog", SHOP, body={"items": [{**_burn("b-1", "2026-12-09T11:00:00Z", 1), "x": 1}]}
    )
    assert [d["field"] for d in unknown.body["details"]] == ["items.0.x"], unknown.body
