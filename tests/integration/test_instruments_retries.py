"""Retries, duplicates and crashes on the instrument API's write paths, through the real handlers
on moto: the same request twice answers the same and changes things once, the same key with
another body is refused and changes nothing, and a crash before or after a write leaves a state
the retry repairs (races: test_instruments_races.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from loyalty_engine.customers.store import CustomerStore
from loyalty_engine.instruments.instrument_store import InstrumentStore
from loyalty_engine.instruments.series_store import SeriesStore
from tests.support.api import Reply, call
from tests.support.instrument_api import (
    ADMIN,
    SELLER,
    STORE,
    balance_and_ledger,
    batch_numbers,
    create_batch,
    issue,
    ok,
    redeem,
    refused,
    reverse,
    sell,
    sold_gift_card,
    store_credit,
)
from tests.support.instrument_retries import (
    SPLIT_LIKE,
    between,
    crash_once,
    crashed,
    customer,
    customers_world,
    link,
    stored_items,
    stored_text,
    unchanged,
)

pytestmark = pytest.mark.usefixtures("table")


@pytest.fixture
def world() -> None:
    customers_world()


def test_an_instrument_linked_while_its_customer_is_erased_is_blanked_too(world, table, monkeypatch):
    """A cancelled card (its reason naming the person) is linked to the customer between the
    erasure's read of the customer's links and its write: the link moves the customer's version,
    so the erasure reads again and blanks that card's reason as well."""
    number = sold_gift_card(table, "B-ERASE")
    cancellation = {"cancellation_id": "C-1", "reason": "Ada Lovelace reported it stolen"}
    ok(call("api_cancel_instrument", ADMIN, path={"number": number}, body=cancellation))
    raced = between(CustomerStore, "customer", lambda: link(number, "ada"), monkeypatch)

    erased = call("api_erase_customer", ADMIN, path={"customer_id": "ada"})

    assert raced and raced[0].status == 200, raced
    assert erased.status == 200, erased.body
    assert erased.body["links"]["instruments"] == [number]
    assert customer("ada")["links"]["instruments"] == [number]
    assert "reported it stolen" not in stored_text(table)


# --- the same request twice; the same key with another body -----------------------------------
def twice(
    send: Callable[[dict[str, Any]], Reply], body: dict[str, Any], other: dict[str, Any], table
) -> Reply:
    """Send `body`, then again (the same answer, nothing written), then the same key with `other`
    (409 idempotency_key_reused, nothing written). The first answer."""
    first = send(body)
    assert first.status in (200, 201), first.body
    before = stored_items(table)
    again = send(body)
    assert (again.status, again.body) == (first.status, first.body)
    unchanged(table, before, body)
    refused(send(other), 409, "idempotency_key_reused")
    unchanged(table, before, other)
    return first


def test_every_till_operation_replayed_answers_the_same_and_its_key_reused_is_refused(world, table):
    (number,) = issue(table, "gift", "B-TWICE", 1)
    sale = {"activation_id": "S-1", "value": "100.00", "customer_id": "ada"}
    twice(
        lambda b: call("api_activate_gift_card", STORE, path={"number": number}, body=b),
        sale,
        {**sale, "value": "90.00"},
        table,
    )
    pay = {"redemption_id": "P-1", "amount": "30.00"}
    twice(
        lambda b: call("api_redeem_instrument", STORE, path={"number": number}, body=b),
        pay,
        {**pay, "amount": "31.00"},
        table,
    )
    path = {"number": number, "redemption_id": "P-1"}
    back = {"reversal_id": "R-1", "amount": "10.00"}
    twice(
        lambda b: call("api_reverse_redemption", STORE, path=path, body=b),
        back,
        {**back, "amount": "11.00"},
        table,
    )
    credit = {"return_id": "RET-1", "amount": "20.00", "currency": "EUR", "customer_id": "bob"}
    issued = twice(
        lambda b: call("api_issue_store_credit", SELLER, path={"series_id": "credit"}, body=b),
        credit,
        {**credit, "amount": "21.00"},
        table,
    )
    assert customer("bob")["links"]["instruments"] == [issued.body["instrument"]["number"]]
    cancel = {"cancellation_id": "C-1", "reason": "lost"}
    twice(
        lambda b: call("api_cancel_instrument", ADMIN, path={"number": number}, body=b),
        cancel,
        {**cancel, "reason": "stolen"},
        table,
    )
    view, entries = balance_and_ledger(number)
    assert (view["balance"], view["status"]) == ("80.00", "cancelled")
    assert [e["kind"] for e in entries] == ["cancellation", "reversal", "redemption", "activation"]
    assert customer("ada")["links"]["instruments"] == [number]
    # a replay still answers once the state moved on (the card is cancelled now)
    assert ok(redeem(number, "P-1", "30.00"))["entry"]["amount"] == "-30.00"


def test_admin_puts_and_links_replayed_change_nothing(world, table):
    (number,) = issue(table, "gift", "B-PUTS", 1)
    puts = [
        ("api_put_merchant_group", {"merchant_group_id": "more"}, {"name": "More"}),
        (
            "api_put_merchant",
            {"merchant_id": "m-9"},
            {"name": "M9", "store_id": "S-9", "merchant_groups": ["more"]},
        ),
        ("api_put_customer_group", {"customer_group_id": "vip"}, {"name": "VIP"}),
        ("api_put_customer", {"customer_id": "cy"}, {"first_name": "Cy", "customer_groups": ["vip"]}),
        ("api_put_series", {"series_id": "extra"}, {**SPLIT_LIKE}),
        ("api_create_batch", {"series_id": "extra"}, {"batch_id": "EB-1", "count": 3}),
        ("api_link_instrument_customer", {"number": number}, {"customer_id": "cy"}),
        ("api_unlink_instrument_customer", {"number": number}, ...),
        ("api_erase_customer", {"customer_id": "cy"}, ...),
    ]
    for event, path, body in puts:
        first = call(event, ADMIN, path=path, body=body)
        assert first.status in (200, 201), (event, first.body)
        before = stored_items(table)
        again = call(event, ADMIN, path=path, body=body)
        assert again.status in (200, 201) and again.body == first.body, (event, again.body)
        unchanged(table, before, event)


# --- crashes: between two writes, or after the last one (the answer lost); then the retry --------
@pytest.mark.parametrize("after", [False, True], ids=["before-commit", "answer-lost"])
def test_store_credit_retried_after_a_crash_is_issued_once(world, table, monkeypatch, after):
    crash_once(InstrumentStore, "commit", monkeypatch, after=after)
    crashed(lambda: store_credit("RET-C", "20.00", customer_id="ada"))
    issued = ok(store_credit("RET-C", "20.00", customer_id="ada"))
    number = issued["instrument"]["number"]
    assert ok(store_credit("RET-C", "20.00", customer_id="ada")) == issued
    credits = [i for i in stored_items(table) if '"type": {"S": "instrument"}' in i and '"7002' in i]
    assert len(credits) == 1, credits
    assert customer("ada")["links"]["instruments"] == [number]
    view, entries = balance_and_ledger(number)
    assert view["balance"] == "20.00" and len(entries) == 1


@pytest.mark.parametrize("after", [False, True], ids=["before-commit", "answer-lost"])
def test_till_operations_retried_after_a_crash_move_value_once(world, table, monkeypatch, after):
    (number,) = issue(table, "gift", "B-CRASH", 1)
    steps: list[Callable[[], Reply]] = [
        lambda: sell(number, "S-1", "100.00", customer_id="ada"),
        lambda: redeem(number, "P-1", "30.00"),
        lambda: reverse(number, "P-1", "R-1", "10.00"),
        lambda: link(number, "bob"),
        lambda: call(
            "api_cancel_instrument",
            ADMIN,
            path={"number": number},
            body={"cancellation_id": "C-1", "reason": "x"},
        ),
    ]
    for step in steps:
        crash_once(InstrumentStore, "commit", monkeypatch, after=after)
        crashed(step)
        first = step()
        assert first.status in (200, 201), first.body
        assert step().body == first.body
    view, entries = balance_and_ledger(number)
    assert (view["balance"], view["status"], view["customer_id"]) == ("80.00", "cancelled", "bob")
    kinds = [e["kind"] for e in entries][::-1]
    assert kinds == ["activation", "redemption", "reversal", "customer_link", "cancellation"]
    assert (customer("ada")["links"]["instruments"], customer("bob")["links"]["instruments"]) == (
        [],
        [number],
    )


@pytest.mark.parametrize("after", [False, True], ids=["before-checkpoint", "checkpoint-written"])
def test_a_batch_retried_after_a_crash_issues_its_count_once(world, table, monkeypatch, after):
    crash_once(SeriesStore, "put_instruments", monkeypatch, after=after)
    crashed(lambda: create_batch("gift", "B-CRASH", 7))
    done = ok(create_batch("gift", "B-CRASH", 7))
    assert (done["status"], done["issued"]) == ("completed", 7)
    assert len(batch_numbers(table, "B-CRASH")) == 7
    refused(create_batch("gift", "B-CRASH", 8), 409, "idempotency_key_reused")


def test_an_erasure_retried_after_a_crash_finishes(world, table, monkeypatch):
    number = sold_gift_card(table, "B-CRASH-ERASE")
    ok(link(number, "ada"), 200)
    body = {"cancellation_id": "C-1", "reason": "Ada Lovelace lost it"}
    ok(call("api_cancel_instrument", ADMIN, path={"number": number}, body=body))
    from loyalty_engine.privacy.store import PrivacyStore

    crash_once(PrivacyStore, "put_erased_customer", monkeypatch, after=False)
    crashed(lambda: call("api_erase_customer", ADMIN, path={"customer_id": "ada"}))
    erased = ok(call("api_erase_customer", ADMIN, path={"customer_id": "ada"}), 200)
    assert erased["erased"] is True and erased["links"]["instruments"] == [number]
    assert "Lovelace" not in stored_text(table)


def test_a_card_linked_before_its_sale_to_a_customer_since_erased_still_sells(world, table):
    """An unsold card linked to a customer who is then erased: its sale (naming no customer)
    goes through at once and keeps the link (a pseudonymous id, as an erasure keeps every link);
    it does not re-link the erased customer, whose check would fail every attempt."""
    (number,) = issue(table, "gift", "B-PRELINKED", 1)
    ok(link(number, "ada"), 200)
    ok(call("api_erase_customer", ADMIN, path={"customer_id": "ada"}), 200)
    sold = ok(sell(number, "S-1", "50.00"))
    assert (sold["instrument"]["customer_id"], sold["instrument"]["balance"]) == ("ada", "50.00")
    assert customer("ada")["links"]["instruments"] == [number]
    _, entries = balance_and_ledger(number)
    assert [e["kind"] for e in entries] == ["activation", "customer_link"]
    # naming the erased customer is still refused, nothing written
    (other,) = issue(table, "gift", "B-PRELINKED-2", 1)
    before = stored_items(table)
    refused(sell(other, "S-2", "50.00", customer_id="ada"), 409, "customer_erased")
    unchanged(table, before)
