"""An operator links an instrument to a customer after its sale or issue, moves it, unlinks it
(`PUT`/`DELETE /v1/instruments/{number}/customer`), through the instrument API on moto."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Reply, call
from tests.support.clock import FakeClock
from tests.support.instrument_api import (
    ADMIN,
    STORE,
    balance_and_ledger,
    build_world,
    issue,
    lookup,
    ok,
    refused,
    sell,
    sold_gift_card,
)


@pytest.fixture
def world(table) -> FakeClock:
    clock = build_world()
    for customer_id in ("ada", "bob"):
        ok(call("api_put_customer", ADMIN, path={"customer_id": customer_id}, body={"first_name": "A"}))
    return clock


def link(number: str, customer_id: str, caller: Any = ADMIN) -> Reply:
    return call(
        "api_link_instrument_customer", caller, path={"number": number}, body={"customer_id": customer_id}
    )


def unlink(number: str) -> Reply:
    return call("api_unlink_instrument_customer", ADMIN, path={"number": number})


def instruments_of(customer_id: str) -> list[str]:
    reply = call("api_get_customer", ADMIN, path={"customer_id": customer_id})
    return ok(reply, 200)["links"]["instruments"]  # type: ignore[no-any-return]


def entries(number: str) -> list[dict[str, Any]]:
    """The ledger, oldest first, checked: one entry per version (consecutive numbers, the last the
    instrument's version) and the amounts adding up to the balance."""
    view, newest_first = balance_and_ledger(number)
    oldest_first = newest_first[::-1]
    numbers = [e["entry_no"] for e in oldest_first]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert sum(float(e["amount"]) for e in oldest_first) == float(view["balance"] or 0)
    return oldest_first


def test_a_sold_card_is_linked_moved_and_unlinked_with_one_ledger_entry_each(world, table):
    number = sold_gift_card(table, "B1")
    linked = ok(link(number, "ada"), 200)
    assert (linked["number"], linked["customer_id"], linked["balance"]) == (number, "ada", "100.00")
    assert ok(lookup(number), 200)["customer_id"] == "ada"
    assert instruments_of("ada") == [number]

    moved = ok(link(number, "bob"), 200)
    assert moved["customer_id"] == "bob"
    assert (instruments_of("ada"), instruments_of("bob")) == ([], [number])

    assert ok(unlink(number), 200)["customer_id"] is None
    assert instruments_of("bob") == []
    kinds = [(e["kind"], e["reference"], e["amount"]) for e in entries(number)]
    assert kinds == [
        ("activation", "SALE-B1", "100.00"),
        ("customer_link", "ada", "0.00"),
        ("customer_link", "bob", "0.00"),
        ("customer_unlink", "bob", "0.00"),
    ]


def test_the_link_it_has_already_changes_nothing(world, table):
    number = sold_gift_card(table, "B1")
    first = ok(link(number, "ada"), 200)
    before = balance_and_ledger(number)
    assert ok(link(number, "ada"), 200) == first
    assert balance_and_ledger(number) == before
    ok(unlink(number), 200)
    after_unlink = balance_and_ledger(number)
    assert ok(unlink(number), 200)["customer_id"] is None
    assert balance_and_ledger(number) == after_unlink


def test_an_unsold_card_linked_then_sold_to_another_customer_moves_its_link(world, table):
    (number,) = issue(table, "gift", "B1", 1)
    assert ok(link(number, "ada"), 200)["status"] == "issued"
    assert instruments_of("ada") == [number]
    sold = ok(sell(number, "SALE-1", "50.00", customer_id="bob"))
    assert (sold["instrument"]["status"], sold["instrument"]["customer_id"]) == ("active", "bob")
    assert (instruments_of("ada"), instruments_of("bob")) == ([], [number])
    assert [e["kind"] for e in entries(number)] == ["customer_link", "activation"]


def test_an_unsold_card_linked_keeps_its_link_when_sold_without_a_customer(world, table):
    (number,) = issue(table, "gift", "B1", 1)
    ok(link(number, "ada"), 200)
    assert ok(sell(number, "SALE-1", "50.00"))["instrument"]["customer_id"] == "ada"
    assert instruments_of("ada") == [number]


def test_refusals_change_nothing(world, table):
    number = sold_gift_card(table, "B1")
    ok(link(number, "ada"), 200)
    before = balance_and_ledger(number)
    refused(link(number, "nobody"), 404, "customer_not_found")
    refused(link(number, "Not A Slug"), 422, "validation_error")
    refused(link(number, "bob", caller=STORE), 403, "forbidden")
    refused(link("6012000000000029", "bob"), 404, "instrument_not_found")
    ok(call("api_erase_customer", ADMIN, path={"customer_id": "bob"}), 200)
    refused(link(number, "bob"), 409, "customer_erased")
    assert balance_and_ledger(number) == before
    assert instruments_of("ada") == [number]
