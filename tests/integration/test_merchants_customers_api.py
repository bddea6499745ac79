"""Merchants, merchant groups, customers and customer groups through the instrument API on moto:
create and replace, references to groups that must exist, unique store ids, member cards and
instruments linked to customers."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import CARD
from tests.support.api import Reply, call
from tests.support.instrument_api import (
    ADMIN,
    build_world,
    issue,
    lookup,
    ok,
    put_merchant,
    put_merchant_group,
    refused,
    sell,
    store_credit,
    stored,
    use_clock,
)


def get_merchant(merchant_id: str) -> Reply:
    return call("api_get_merchant", ADMIN, path={"merchant_id": merchant_id})


def put_customer(customer_id: str, **spec: Any) -> Reply:
    return call("api_put_customer", ADMIN, path={"customer_id": customer_id}, body=spec)


def get_customer(customer_id: str) -> Reply:
    return call("api_get_customer", ADMIN, path={"customer_id": customer_id})


def link(card_code: str, customer_id: str) -> Reply:
    path = {"card_code": card_code}
    return call("api_link_card_customer", ADMIN, path=path, body={"customer_id": customer_id})


def links(customer_id: str) -> dict[str, list[str]]:
    return ok(get_customer(customer_id), 200)["links"]  # type: ignore[no-any-return]


def test_merchant_groups_are_created_then_replaced(table):
    clock = use_clock()
    created = ok(call("api_put_merchant_group", ADMIN))
    assert created["created_at"] == created["updated_at"]
    clock.advance(hours=1)
    body = {"name": "Every store"}
    replaced = ok(call("api_put_merchant_group", ADMIN, body=body), 200)
    assert (replaced["name"], replaced["description"]) == ("Every store", None)
    assert replaced["created_at"] == created["created_at"] and replaced["updated_at"] > created["updated_at"]
    assert ok(call("api_get_merchant_group", ADMIN), 200) == replaced
    path = {"merchant_group_id": "nothing"}
    refused(call("api_get_merchant_group", ADMIN, path=path), 404, "merchant_group_not_found")


def test_a_merchant_belongs_to_existing_groups_and_owns_its_store_id(table):
    clock = use_clock()
    ok(call("api_put_merchant_group", ADMIN))
    ok(put_merchant_group("outlets"))
    # Groups must exist: nothing is written otherwise (not even the store id's claim).
    body = refused(put_merchant("store-1", "S001", ["stores", "nothing"]), 422, "unknown_merchant_group")
    assert body["details"] == [
        {"field": "merchant_groups", "reason": "unknown_merchant_group", "value": "nothing"}
    ]
    refused(get_merchant("store-1"), 404, "merchant_not_found")
    reply = put_merchant("store-1", "S001", ["stores", "stores"])
    assert (reply.status, reply.body["code"]) == (422, "validation_error")

    first = ok(put_merchant("store-2", "S001", ["stores"]))  # S001 was not claimed by the refusal
    assert (first["version"], first["merchant_groups"]) == (1, ["stores"])
    clock.advance(minutes=5)
    second = ok(put_merchant("store-2", "S001", ["stores", "outlets"]), 200)
    assert (second["version"], second["merchant_groups"]) == (2, ["outlets", "stores"])  # kept sorted
    assert second["created_at"] == first["created_at"]
    assert ok(get_merchant("store-2"), 200) == second

    body = refused(put_merchant("store-1", "S001", ["stores"]), 409, "store_id_taken")
    assert body["details"] == [{"field": "store_id", "reason": "store_id_taken"}]
    refused(get_merchant("store-1"), 404, "merchant_not_found")
    # Moving store-2 to S002 frees S001.
    ok(put_merchant("store-2", "S002", ["stores"]), 200)
    ok(put_merchant("store-1", "S001", ["stores"]))
    refused(put_merchant("store-3", "S002", []), 409, "store_id_taken")
    refused(put_merchant("store-1", "S002", ["stores"]), 409, "store_id_taken")
    assert ok(get_merchant("store-1"), 200)["store_id"] == "S001"
    # A refused replacement leaves the merchant as it was.
    refused(put_merchant("store-2", "S003", ["nothing"]), 422, "unknown_merchant_group")
    moved = ok(get_merchant("store-2"), 200)
    assert (moved["store_id"], moved["version"]) == ("S002", 3)
    ok(put_merchant("store-3", "S003", []))  # S003 is free: the refusal claimed nothing
    claims = sorted((c["sk"], c["merchant_id"]) for c in stored(table, "store_claim"))
    assert claims == [("STORE#S001", "store-1"), ("STORE#S002", "store-2"), ("STORE#S003", "store-3")]


def test_customers_their_groups_and_their_cards(table, member):
    world = build_world()
    assert ok(call("api_put_customer_group", ADMIN))["name"] == "VIP customers"
    assert ok(call("api_put_customer_group", ADMIN, body={"name": "Very important"}), 200)["name"] == (
        "Very important"
    )
    path = {"customer_group_id": "nothing"}
    refused(call("api_get_customer_group", ADMIN, path=path), 404, "customer_group_not_found")

    body = refused(put_customer("c-1", customer_groups=["vip", "nothing"]), 422, "unknown_customer_group")
    assert body["details"] == [
        {"field": "customer_groups", "reason": "unknown_customer_group", "value": "nothing"}
    ]
    refused(get_customer("c-1"), 404, "customer_not_found")
    reply = put_customer("c-1", email="not an email")
    assert (reply.status, reply.body["code"]) == (422, "validation_error")
    created = ok(call("api_put_customer", ADMIN))
    assert (created["customer_id"], created["email"], created["customer_groups"]) == (
        "c-1001",
        "ada@example.com",
        ["vip"],
    )
    assert created["links"] == {"card_codes": [], "instruments": []}
    ok(put_customer("c-2", first_name="Grace"))

    # A card links to one customer; linking again moves it.
    assert ok(link(CARD, "c-1001"), 200)["links"] == {"card_codes": [CARD], "instruments": []}
    assert ok(link(CARD, "c-1001"), 200)["links"]["card_codes"] == [CARD]
    assert ok(link(CARD, "c-2"), 200)["links"]["card_codes"] == [CARD]
    assert links("c-1001")["card_codes"] == []
    refused(link(CARD, "c-404"), 404, "customer_not_found")
    refused(link("2990000000025", "c-1001"), 404, "member_not_found")
    assert (links("c-2")["card_codes"], links("c-1001")["card_codes"]) == ([CARD], [])

    # Instruments sold or issued for a customer link to it.
    gift, other = issue(table, "gift", "B-CUST", 2)
    sold = ok(sell(gift, "SALE-1", "30.00", customer_id="c-1001"))
    assert sold["instrument"]["customer_id"] == "c-1001"
    refused(sell(other, "SALE-2", "30.00", customer_id="c-404"), 404, "customer_not_found")
    assert ok(lookup(other), 200)["status"] == "issued"
    credit = ok(store_credit("RET-1", "12.00", customer_id="c-2"))["instrument"]
    assert credit["customer_id"] == "c-2"
    assert links("c-1001") == {"card_codes": [], "instruments": [gift]}
    assert links("c-2") == {"card_codes": [CARD], "instruments": [credit["number"]]}

    # Replacing a customer keeps its links.
    world.advance(days=1)
    replaced = ok(call("api_put_customer", ADMIN, body={"first_name": "Ada", "customer_groups": []}), 200)
    assert (replaced["email"], replaced["customer_groups"]) == (None, [])
    assert replaced["links"] == {"card_codes": [], "instruments": [gift]}
    assert replaced["created_at"] == created["created_at"]
    assert ok(get_customer("c-1001"), 200) == replaced


def test_a_replayed_put_changes_nothing_and_answers_the_same(table):
    """A retried PUT (same body, later) leaves the item as the first one wrote it: no new
    version, no new updated_at, the same answer (200: it exists now)."""
    clock = use_clock()
    replays = [
        ("api_put_merchant_group", {}, ...),
        ("api_put_merchant", {}, ...),
        ("api_put_series", {}, ...),
        ("api_put_customer_group", {}, ...),
        ("api_put_customer", {}, ...),  # in the group above
    ]
    firsts = []
    for event, path, body in replays:
        firsts.append(ok(call(event, ADMIN, path=path, body=body)))
    clock.advance(minutes=5)
    for (event, path, body), first in zip(replays, firsts, strict=True):
        again = ok(call(event, ADMIN, path=path, body=body), 200)
        assert again == first, event
