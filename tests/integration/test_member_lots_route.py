"""`GET /v1/members/{card_code}/lots`: a member's live lots with their expiry, soonest first, in
pages that give every lot once; admin keys of the member's group only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel.cursors import encode_cursor
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import summarize
from loyalty_engine.points.member_store import MemberWrite
from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import call


def lots(caller=ADMIN, **query: str) -> dict:
    reply = call("api_get_member_lots", caller, query=query)
    assert reply.status == 200, reply.body
    return reply.body


def every_page(limit: int) -> tuple[list[dict], int]:
    found, cursor, pages = [], None, 0
    while True:
        body = lots(limit=str(limit), **({"cursor": cursor} if cursor else {}))
        found += body["lots"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return found, pages


def _dynamodb_calls() -> list[str]:
    calls: list[str] = []
    client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def _give_lots(count: int, now: datetime, *, never: int = 0) -> None:
    """`count` live NQ lots and as many Q lots expiring over the next three years, and `never`
    NQ lots that never expire, written straight through the store (one order at a time would
    take minutes)."""
    store = default_context().members
    member, _ = store.load("demo", CARD, [])
    assert member is not None
    given = list(member.lots)
    for n in range(count):
        for kind in ("nq", "q"):
            expires = now + timedelta(days=30 + (n * 7919) % 1000)  # not in the order given
            given.append(
                Lot(lot_id=f"G{n:05d}", kind=kind, points=n + 1, available_at=now, expires_at=expires)
            )
    for n in range(never):
        given.append(Lot(lot_id=f"N{n:05d}", kind="nq", points=2, available_at=now - timedelta(days=n)))
    new = member.model_copy(
        update={"lots": given, "version": member.version + 1, "points": summarize(given, None)}
    )
    write = MemberWrite(member=new, lots_before=member.lots, lot_slots=member.lot_slots)
    store.commit("demo", write, expected_version=member.version)


def test_each_lot_with_its_points_what_its_order_earned_and_its_expiry_soonest_first(member, clock):
    # 129.90 EUR ordered 2026-11-20: 1,299 NQ (14 days' holding) and 129 Q, valid a year
    assert call("api_earn_order", SHOP).status == 201
    early = order_body(order_id="WEB-EARLY", amount="10.00", ordered_at="2026-10-01T10:00:00Z")
    assert call("api_earn_order", SHOP, body=early).status == 201
    # a burn takes the soonest-expiring NQ points first: all of WEB-EARLY's 100, then 199
    assert call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": 299}).status == 201
    credit = {"kind": "q", "points": 50, "reason_code": "goodwill", "comment": "late parcel"}
    assert call("api_adjust_points", ADMIN, body=credit).status == 201
    calls = _dynamodb_calls()
    body = lots()
    # the member's lots (one Query) and the page's orders (one BatchGetItem)
    assert calls == ["Query", "BatchGetItem"]
    assert body["total"] == 4 and body["next_cursor"] is None
    rows = [
        {name: lot[name] for name in ("kind", "points", "earned", "earned_at", "expires_at", "order_id")}
        for lot in body["lots"]
    ]
    assert rows == [
        {
            "kind": "q",
            "points": 10,
            "earned": 10,
            "earned_at": "2026-10-01T10:00:00Z",
            "expires_at": "2027-10-01T10:00:00Z",
            "order_id": "WEB-EARLY",
        },
        {  # the same expiry: the lot available first comes first
            "kind": "q",
            "points": 129,
            "earned": 129,
            "earned_at": "2026-11-20T14:04:05Z",
            "expires_at": "2027-11-20T14:04:05Z",
            "order_id": "WEB-100045",
        },
        {
            "kind": "nq",
            "points": 1_100,
            "earned": 1_299,
            "earned_at": "2026-11-20T14:04:05Z",
            "expires_at": "2027-11-20T14:04:05Z",
            "order_id": "WEB-100045",
        },
        {  # an adjustment: credited now, available at once, valid a year
            "kind": "q",
            "points": 50,
            "earned": None,
            "earned_at": "2026-12-10T12:00:00Z",
            "expires_at": "2027-12-10T12:00:00Z",
            "order_id": None,
        },
    ]
    nq = body["lots"][2]
    assert nq["available_at"] == "2026-12-04T14:04:05Z"  # after the holding period
    ledger = call("api_get_ledger", SHOP).body["entries"]
    earn = next(e for e in ledger if e["reference"] == "WEB-100045")
    assert nq["lot_id"] == earn["entry_id"]


def test_spent_and_expired_lots_are_not_shown(member, clock):
    early = order_body(order_id="WEB-EARLY", amount="10.00", ordered_at="2026-10-01T10:00:00Z")
    assert call("api_earn_order", SHOP, body=early).status == 201
    assert call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": 100}).status == 201
    assert [(lot["kind"], lot["points"]) for lot in lots()["lots"]] == [("q", 10)]
    clock.advance(days=366)  # expired, though no write has taken it out of the chunks yet
    assert lots() == {"lots": [], "total": 0, "next_cursor": None}


@pytest.mark.parametrize("limit", [1, 37, 200])
def test_pages_give_every_lot_once_in_expiry_order(member, clock, limit):
    _give_lots(120, clock(), never=3)
    calls = _dynamodb_calls()
    first = lots(limit=str(limit))
    assert calls == ["Query"]  # no lot of an order: nothing more to read
    assert first["total"] == 243
    found, pages = every_page(limit)
    assert len(found) == 243 and pages == -(-243 // limit)
    assert len({(lot["lot_id"], lot["kind"]) for lot in found}) == 243
    dated = [lot for lot in found if lot["expires_at"] is not None]
    assert [lot["expires_at"] for lot in dated] == sorted(lot["expires_at"] for lot in dated)
    assert [lot["lot_id"] for lot in found[-3:]] == ["N00002", "N00001", "N00000"]  # never: last
    assert found[:limit] == first["lots"]


def test_a_lot_spent_between_two_pages_moves_no_other_lot(member, clock):
    _give_lots(30, clock())
    first = lots(limit="10")
    # the burn empties the 5 soonest-expiring NQ lots (points 1..n by lot, not by expiry)
    soonest = [lot for lot in first["lots"] if lot["kind"] == "nq"]
    spent = sum(lot["points"] for lot in soonest)
    assert call("api_burn_points", SHOP, body={"burn_id": "B-1", "points": spent}).status == 201
    second = lots(limit="10", cursor=first["next_cursor"])
    everything = first["lots"] + second["lots"]
    after = lots(limit="200")["lots"]
    assert second["lots"] == after[10 - len(soonest) : 20 - len(soonest)]
    assert len({(lot["lot_id"], lot["kind"]) for lot in everything}) == 20


def test_unknown_card_other_group_shop_key_and_bad_cursors(member, clock):
    assert call("api_earn_order", SHOP).status == 201
    reply = call("api_get_member_lots", OTHER_GROUP)
    assert (reply.status, reply.body["code"]) == (404, "member_not_found")
    reply = call("api_get_member_lots", ADMIN, path={"card_code": "2990000000025"})
    assert (reply.status, reply.body["code"]) == (404, "member_not_found")
    assert call("api_get_member_lots", SHOP).status == 403
    for cursor in (
        "bm90LWpzb24",
        encode_cursor(json.dumps([1, 2, "x"])),
        encode_cursor(json.dumps([1, 2, "x", "z"])),
        encode_cursor(json.dumps(["1", 2, "x", "nq"])),
        encode_cursor(json.dumps([-1, 2, "x", "nq"])),
    ):
        reply = call("api_get_member_lots", ADMIN, query={"cursor": cursor})
        assert (reply.status, reply.body["code"]) == (422, "invalid_cursor"), (cursor, reply.body)
    for limit in ("0", "201", "x"):
        assert call("api_get_member_lots", ADMIN, query={"limit": limit}).status == 422
    assert len(lots()["lots"]) == 2 and datetime.now(UTC)
