"""A member's timeline: ledger entries, tier changes, rewards and instruments, newest first,
in pages that give every item exactly once."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import call, load_event
from tests.support.instrument_api import CREDIT, STORE, ok, put_series


def timeline(caller=ADMIN, **query: str) -> dict:
    reply = call("api_get_timeline", caller, query=query)
    assert reply.status == 200, reply.body
    return reply.body


def whole(limit: int) -> tuple[list[dict], int]:
    items, cursor, pages = [], None, 0
    while True:
        body = timeline(limit=str(limit), **({"cursor": cursor} if cursor else {}))
        items += body["items"]
        pages += 1
        assert body["next"] == body["next_cursor"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.fixture
def busy_member(member, clock) -> None:
    """An earn, a VIP grant, a reward bought, an adjustment and a store credit of its customer,
    each a minute after the one before."""
    assert call("api_earn_order", SHOP).status == 201
    clock.advance(minutes=1)
    assert call("api_grant_vip_tier", ADMIN).status == 200
    clock.advance(minutes=1)
    free = {**json.loads(load_event("api_put_reward")["body"]), "nqp_value": 0}
    assert call("api_put_reward", ADMIN, body=free).status == 201
    assert call("api_buy_reward", SHOP).status == 201
    clock.advance(minutes=1)
    body = {"kind": "nq", "points": -99, "reason_code": "correction", "comment": "double order"}
    assert call("api_adjust_points", ADMIN, body=body).status == 201
    clock.advance(minutes=1)
    from loyalty_engine.instruments.context import instrument_services

    instrument_services().clock = clock
    ok(call("api_put_merchant_group", ADMIN))
    ok(call("api_put_merchant", ADMIN))
    ok(put_series("credit", {**CREDIT, "issuer_group": "stores", "acceptor_group": "stores"}))
    ok(call("api_put_customer_group", ADMIN))
    ok(call("api_put_customer", ADMIN))
    ok(call("api_link_card_customer", ADMIN), 200)
    credit = {**json.loads(load_event("api_issue_store_credit")["body"]), "customer_id": "c-1001"}
    ok(call("api_issue_store_credit", STORE, body=credit))


def test_everything_in_one_view_newest_first(busy_member):
    body = timeline()
    assert body["next"] is None and body["next_cursor"] is None
    kinds = [(i["type"], i["kind"]) for i in body["items"]]
    assert kinds == [
        ("instrument", "store_credit"),
        ("ledger", "adjustment"),
        ("reward", "granted"),
        ("tier_change", "vip_grant"),
        ("ledger", "earn"),
    ]
    ats = [i["at"] for i in body["items"]]
    assert ats == sorted(ats, reverse=True)
    assert {"ledger", "tier_change", "reward", "instrument"} == {i["type"] for i in body["items"]}
    adjustment = next(i for i in body["items"] if i["kind"] == "adjustment")
    assert adjustment["summary"].startswith("adjustment -99 NQ (correction)")
    assert adjustment["detail"]["reason_code"] == "correction"
    assert adjustment["detail"]["comment"] == "double order"
    vip = next(i for i in body["items"] if i["type"] == "tier_change")
    assert vip["summary"] == "vip_grant staff"
    instrument = body["items"][0]
    assert instrument["summary"].startswith("store_credit ") and "balance 19.90" in instrument["summary"]


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_give_every_item_once(busy_member, limit):
    everything = timeline()["items"]
    items, pages = whole(limit)
    assert items == everything
    assert pages >= len(everything) // limit


def test_unknown_card_and_other_group_answer_404(member):
    reply = call("api_get_timeline", OTHER_GROUP)
    assert (reply.status, reply.body["code"]) == (404, "member_not_found")
    reply = call("api_get_timeline", ADMIN, path={"card_code": "2990000000025"})
    assert (reply.status, reply.body["code"]) == (404, "member_not_found")
    assert call("api_get_timeline", SHOP).status == 403
    assert call("api_get_timeline", ADMIN, query={"cursor": "bm90LWpzb24"}).status == 422
    assert timeline()["items"] == [] and CARD


def test_a_new_member_has_an_empty_timeline(member):
    assert timeline() == {"items": [], "next_cursor": None, "next": None}
    assert call("api_earn_order", SHOP, body=order_body(order_id="o-2")).status == 201
    assert [i["kind"] for i in timeline()["items"]] == ["earn"]


@pytest.mark.parametrize(
    "positions",
    [
        {"ledger": "TIER#1", "tier_change": None, "reward": None, "instrument": None},
        {"ledger": None, "tier_change": None, "reward": "no-separator", "instrument": None},
        {"ledger": None, "tier_change": None, "reward": None, "instrument": "x"},
        {"ledger": None, "tier_change": 3, "reward": None, "instrument": None},
        {"ledger": None},
    ],
)
def test_a_forged_cursor_is_refused(member, positions):
    from loyalty_engine.kernel.cursors import encode_cursor

    reply = call("api_get_timeline", ADMIN, query={"cursor": encode_cursor(json.dumps(positions))})
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor"), reply.body
