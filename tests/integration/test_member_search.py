"""Member search (issue 16): `GET /v1/members` by e-mail, card code prefix and external customer
id, through the real handlers on moto: lookup items written with the members and customers (no
scan), paged, an e-mail change moving its lookup, one filter exactly, admin keys only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP, SHOP, order_body
from tests.support.api import Reply, call

CARDS = [CARD, "2990000000025", "2990000000033", "2991000000016", "ABC-0001"]


def enrol(card: str) -> None:
    reply = call("api_enrol_member", SHOP, body={"card_code": card})
    assert reply.status == 201, reply.body


def put_customer(customer_id: str, caller=ADMIN, **fields: Any) -> Reply:
    body = {"customer_groups": [], **fields}
    return call("api_put_customer", caller, path={"customer_id": customer_id}, body=body)


def link(card: str, customer_id: str) -> None:
    reply = call("api_link_card_customer", ADMIN, path={"card_code": card}, body={"customer_id": customer_id})
    assert reply.status == 200, reply.body


def search(caller=ADMIN, **query: str) -> Reply:
    return call("api_search_members", caller, query=query)


def found(**query: str) -> list[str]:
    reply = search(**query)
    assert reply.status == 200, reply.body
    return [item["card_code"] for item in reply.body["items"]]


def all_pages(limit: int, **query: str) -> list[str]:
    cards: list[str] = []
    cursor = None
    for _ in range(50):
        reply = search(**query, limit=str(limit), **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply.body
        assert len(reply.body["items"]) <= limit
        cards += [item["card_code"] for item in reply.body["items"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return cards
    raise AssertionError("the pages never end")


@pytest.fixture
def members(program) -> list[str]:
    for card in CARDS:
        enrol(card)
    assert call("api_earn_order", SHOP).status == 201  # the sample card earns
    assert (
        put_customer("c-ada", first_name="Ada", last_name="Lovelace", email="Ada@Example.com").status == 201
    )
    assert put_customer("c-bob", first_name="Bob", email="bob@example.com").status == 201
    link(CARD, "c-ada")
    link("2990000000025", "c-ada")
    link("ABC-0001", "c-bob")
    return CARDS


def test_a_card_prefix_finds_the_cards_that_begin_with_it_in_order(members):
    assert found(card_prefix="2990") == [CARD, "2990000000025", "2990000000033"]
    assert found(card_prefix="299") == [CARD, "2990000000025", "2990000000033", "2991000000016"]
    assert found(card_prefix="ABC") == ["ABC-0001"]
    assert found(card_prefix="abc") == []  # card codes are case-sensitive
    assert found(card_prefix="3") == []


def test_a_match_carries_program_tier_points_and_the_linked_customer(members):
    reply = search(card_prefix=CARD)
    assert reply.status == 200, reply.body
    [match] = reply.body["items"]
    member = call("api_get_member", SHOP).body
    assert match["card_code"] == CARD
    assert match["program_id"] == member["program_id"]
    assert match["tier"] == member["tier"]
    assert (
        match["nq_points"] == member["balances"]["nq"]["available"] + member["balances"]["nq"]["pending"] > 0
    )
    assert (match["customer_id"], match["name"], match["email"]) == (
        "c-ada",
        "Ada Lovelace",
        "Ada@Example.com",
    )
    unlinked = search(card_prefix="2991").body["items"][0]
    assert (unlinked["customer_id"], unlinked["name"], unlinked["email"], unlinked["nq_points"]) == (
        None,
        None,
        None,
        0,
    )


def test_an_e_mail_finds_the_cards_of_its_customers_whatever_its_case(members):
    assert found(email="ada@example.com") == [CARD, "2990000000025"]
    assert found(email="ADA@EXAMPLE.COM") == [CARD, "2990000000025"]
    assert found(email="bob@example.com") == ["ABC-0001"]
    assert found(email="nobody@example.com") == []
    # two customers sharing an e-mail: both customers' cards, by customer then card
    assert put_customer("c-ada2", first_name="Ada", email="ada@example.com").status == 201
    link("2990000000033", "c-ada2")
    assert found(email="ada@example.com") == [CARD, "2990000000025", "2990000000033"]
    assert all_pages(1, email="ada@example.com") == [CARD, "2990000000025", "2990000000033"]
    assert all_pages(2, email="ada@example.com") == [CARD, "2990000000025", "2990000000033"]


def test_an_external_customer_id_finds_its_cards(members):
    assert found(customer_id="c-ada") == [CARD, "2990000000025"]
    assert found(customer_id="c-bob") == ["ABC-0001"]
    assert found(customer_id="c-nobody") == []
    assert all_pages(1, customer_id="c-ada") == [CARD, "2990000000025"]


def test_pages_walk_every_card_once(members):
    for limit in (1, 2, 3, 10):
        assert all_pages(limit, card_prefix="2") == [c for c in CARDS if c.startswith("2")]


def test_an_e_mail_change_moves_the_lookup_in_the_same_save(members, table):
    reply = put_customer("c-ada", first_name="Ada", last_name="Lovelace", email="ada@new.example.com")
    assert reply.status == 200, reply.body
    assert found(email="ada@example.com") == []
    assert found(email="ada@new.example.com") == [CARD, "2990000000025"]
    # the old lookup item is gone, not left behind: one e-mail lookup per customer with an e-mail
    dynamodb, name = table
    lookups = dynamodb.query(
        TableName=name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "G#demo#EMAILINDEX"}},
    )["Items"]
    assert sorted(item["customer_id"]["S"] for item in lookups) == ["c-ada", "c-bob"]
    assert all("example.com" not in str(item) for item in lookups), "the index holds no e-mail address"
    # an e-mail removed: the customer is found by no e-mail
    assert put_customer("c-bob", first_name="Bob").status == 200
    assert found(email="bob@example.com") == []
    assert found(customer_id="c-bob") == ["ABC-0001"]


def test_exactly_one_filter_is_required(members):
    for query in ({}, {"email": "ada@example.com", "card_prefix": "2990"}, {"limit": "5"}):
        reply = search(**query)
        assert (reply.status, reply.body["code"]) == (422, "one_filter_required"), reply.body
    for query in ({"email": "not-an-email"}, {"card_prefix": "-x"}, {"customer_id": "Not A Slug"}):
        assert search(**query).status == 422


def test_a_cursor_of_another_search_is_refused(members):
    cursor = search(card_prefix="2", limit="1").body["next_cursor"]
    reply = search(card_prefix="ABC", cursor=cursor)
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor")
    reply = search(email="ada@example.com", cursor=cursor)
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor")


def test_search_is_for_admin_keys_and_the_callers_group_only(members):
    assert search(SHOP, card_prefix="2").status == 403
    assert search(OTHER_GROUP, card_prefix="2").body == {"items": [], "next_cursor": None}
    assert search(OTHER_GROUP, email="ada@example.com").body == {"items": [], "next_cursor": None}
    assert search(OTHER_GROUP, customer_id="c-ada").body == {"items": [], "next_cursor": None}
    cursor = search(card_prefix="2", limit="1").body["next_cursor"]
    assert search(OTHER_GROUP, card_prefix="2", cursor=cursor).body["items"] == []


def _dynamodb_calls() -> list[str]:
    from loyalty_engine.kernel.dynamo import client

    calls: list[str] = []
    client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


def test_a_page_costs_a_few_requests_and_no_scan(members):
    found(card_prefix="2")  # the program is in the container's cache from here on
    calls = _dynamodb_calls()
    assert found(card_prefix="2")
    assert calls == ["Query", "BatchGetItem", "BatchGetItem"]
    calls.clear()
    assert found(customer_id="c-ada")
    assert calls == ["GetItem", "Query", "BatchGetItem", "BatchGetItem"]
    calls.clear()
    assert found(email="ada@example.com")
    assert calls == ["Query", "GetItem", "Query", "BatchGetItem", "BatchGetItem"]
    calls.clear()
    assert found(card_prefix="9") == []
    assert calls == ["Query"]
    assert "Scan" not in calls


def test_earn_and_burn_stay_at_two_round_trips(members):
    calls = _dynamodb_calls()
    assert call("api_earn_order", SHOP, body={**order_body(), "order_id": "search-2"}).status == 201
    assert calls == ["Query", "TransactWriteItems"]


def _delete_lookups(table) -> int:
    """Every lookup item of demo removed, as for data saved before the search existed."""
    dynamodb, name = table
    removed = 0
    for pk in ("G#demo#CARDINDEX", "G#demo#EMAILINDEX"):
        found = dynamodb.query(
            TableName=name, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
        )["Items"]
        for lookup in found:
            dynamodb.delete_item(TableName=name, Key={"pk": lookup["pk"], "sk": lookup["sk"]})
            removed += 1
    return removed


def test_the_backfill_writes_the_lookups_of_older_data(members, table, capsys):
    from loyalty_engine.cli import main

    assert _delete_lookups(table) == len(CARDS) + 2
    assert found(card_prefix="2") == [] and found(email="ada@example.com") == []
    assert call("api_erase_member", ADMIN, path={"card_code": "2991000000016"}).status == 200
    assert main(["backfill-search", "--group", "demo"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"group": "demo", "programs": 1, "cards": 4, "customers": 2, "skipped_erased": 1}
    assert found(card_prefix="2") == [CARD, "2990000000025", "2990000000033"]  # not the erased card
    assert found(email="ada@example.com") == [CARD, "2990000000025"]
    assert main(["backfill-search", "--group", "demo"]) == 0  # again: the same items
    assert found(card_prefix="ABC") == ["ABC-0001"]


def test_a_stale_e_mail_lookup_finds_nothing(members, table):
    """A lookup left under an old e-mail (a backfill racing a save) is checked against the customer."""
    from loyalty_engine.kernel import search_keys

    dynamodb, name = table
    stale = {
        "pk": {"S": search_keys.email_index_pk("demo")},
        "sk": {"S": search_keys.email_lookup_sk("old@example.com", "c-ada")},
        "type": {"S": "email_lookup"},
        "customer_id": {"S": "c-ada"},
    }
    dynamodb.put_item(TableName=name, Item=stale)
    assert found(email="old@example.com") == []
    assert found(email="ada@example.com") == [CARD, "2990000000025"]
