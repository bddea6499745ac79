"""Point-of-sale operations through the instrument API on moto: who may sell, issue, redeem and
reverse (the series' issuer and acceptor groups), gift cards of open and fixed value, expiry,
numbers that are not instruments, store credit on a return, coupons, reversals and the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.support.api import call
from tests.support.clock import FakeClock
from tests.support.instrument_api import (
    ACCEPTOR,
    ADMIN,
    OUTSIDER,
    SELLER,
    STORE,
    balance_and_ledger,
    build_world,
    gift_spec,
    issue,
    ledger,
    lookup,
    luhn_digit,
    ok,
    put_merchant,
    put_series,
    redeem,
    refused,
    reverse,
    sell,
    sold_gift_card,
    store_credit,
    stored,
)


@pytest.fixture
def world(table) -> FakeClock:
    return build_world()


def issued_count(series_id: str) -> int:
    return int(ok(call("api_get_series", ADMIN, path={"series_id": series_id}), 200)["issued"])


def wrong_group(reply: Any, merchant_id: str, required_group: str) -> None:
    body = refused(reply, 403, "wrong_merchant_group")
    assert body["details"] == [
        {"reason": "wrong_merchant_group", "merchant_id": merchant_id, "required_group": required_group}
    ], body


def sums_up(number: str) -> list[dict[str, Any]]:
    """The ledger, checked: newest first, consecutive entry numbers, amounts adding up to the
    balance and each balance_after the running sum."""
    view, entries = balance_and_ledger(number)
    numbers = [e["entry_no"] for e in entries]
    assert numbers == list(range(numbers[0], numbers[0] - len(numbers), -1)), numbers
    running = Decimal(0)
    for entry in reversed(entries):
        running += Decimal(entry["amount"])
        assert Decimal(entry["balance_after"]) == running >= 0, entries
    assert Decimal(view["balance"]) == running == sum(Decimal(e["amount"]) for e in entries)
    return entries


# ------------------------------------------------------------------ issuer and acceptor groups
def test_only_the_issuer_group_sells_and_only_the_acceptor_group_redeems(world, table):
    """`split`: sold by sellers, accepted by acceptors. Every refusal changes nothing."""
    (card,) = issue(table, "split", "B-SPLIT", 1)
    unsold = balance_and_ledger(card)
    wrong_group(sell(card, "SALE-A", caller=ACCEPTOR), "acceptor-1", "sellers")
    wrong_group(sell(card, "SALE-O", caller=OUTSIDER), "outsider", "sellers")
    assert balance_and_ledger(card) == unsold
    assert unsold[0]["status"] == "issued" and unsold[1] == []
    assert ok(sell(card, "SALE-S", caller=SELLER))["instrument"]["balance"] == "25.00"

    sold = balance_and_ledger(card)
    wrong_group(redeem(card, "PAY-S", "5.00", caller=SELLER), "seller-1", "acceptors")
    wrong_group(redeem(card, "PAY-O", "5.00", caller=OUTSIDER), "outsider", "acceptors")
    assert balance_and_ledger(card) == sold
    assert ok(redeem(card, "PAY-A", "5.00", caller=ACCEPTOR))["instrument"]["balance"] == "20.00"

    paid = balance_and_ledger(card)
    wrong_group(reverse(card, "PAY-A", "REV-S", caller=SELLER), "seller-1", "acceptors")
    wrong_group(reverse(card, "PAY-A", "REV-O", caller=OUTSIDER), "outsider", "acceptors")
    assert balance_and_ledger(card) == paid
    assert ok(reverse(card, "PAY-A", "REV-A", "2.00", caller=ACCEPTOR))["instrument"]["balance"] == "22.00"

    wrong_group(store_credit("RET-A", "10.00", caller=ACCEPTOR), "acceptor-1", "sellers")
    wrong_group(store_credit("RET-O", "10.00", caller=OUTSIDER), "outsider", "sellers")
    assert issued_count("credit") == 0 and stored(table, "store_credit_return") == []
    credit = ok(store_credit("RET-S", "10.00", caller=SELLER))["instrument"]["number"]
    wrong_group(redeem(credit, "PAY-S", "1.00", caller=SELLER), "seller-1", "acceptors")
    assert ok(redeem(credit, "PAY-A", "1.00", caller=ACCEPTOR))["instrument"]["balance"] == "9.00"

    (coupon,) = issue(table, "promo", "B-PROMO", 1)
    wrong_group(redeem(coupon, "USE-O", caller=OUTSIDER), "outsider", "stores")
    assert ok(lookup(coupon), 200)["status"] == "active"

    # Group membership is read at every call: a merchant taken out of a group loses its rights.
    ok(put_merchant("acceptor-1", "S-ACC", []), 200)
    wrong_group(redeem(card, "PAY-A2", "1.00", caller=ACCEPTOR), "acceptor-1", "acceptors")
    assert ok(lookup(card), 200)["balance"] == "22.00"


# ------------------------------------------------------------------------------ gift cards
def test_an_open_value_gift_card_is_sold_then_spent_to_the_cent(world, table):
    (card,) = issue(table, "gift", "B-OPEN", 1)
    refused(redeem(card, "PAY-0", "1.00"), 409, "not_active")
    for value in (None, "4.99", "500.01"):
        body = refused(sell(card, f"SALE-{value}", value), 422, "invalid_value")
        assert body["details"] == [{"field": "value", "reason": "invalid_value"}]
    view, entries = balance_and_ledger(card)
    assert (view["status"], view["balance"], entries) == ("issued", None, [])

    sold = ok(sell(card, "SALE-1", "100.00"))
    now = world.now
    assert sold["instrument"]["status"] == "active"
    assert sold["instrument"]["activated_at"] == now.isoformat().replace("+00:00", "Z")
    valid_until = datetime.fromisoformat(sold["instrument"]["valid_until"])
    assert valid_until == now.replace(year=now.year + 3)
    assert (sold["entry"]["entry_no"], sold["entry"]["merchant_id"]) == (2, "store-1")
    refused(sell(card, "SALE-2", "100.00"), 409, "already_active")

    refused(redeem(card, "PAY-CUR", "1.00", currency="USD"), 422, "currency_mismatch")
    refused(redeem(card, "PAY-NONE"), 422, "invalid_amount")
    assert ok(redeem(card, "PAY-1", "30.00", currency="EUR"))["instrument"]["balance"] == "70.00"
    assert ok(redeem(card, "PAY-2", "69.99"))["instrument"]["balance"] == "0.01"
    body = refused(redeem(card, "PAY-3", "0.02"), 409, "insufficient_balance")
    assert body["details"] == [{"reason": "insufficient_balance", "balance": "0.01"}]
    last = ok(redeem(card, "PAY-4", "0.01"))
    assert (last["instrument"]["status"], last["instrument"]["balance"]) == ("redeemed", "0.00")
    assert (last["entry"]["amount"], last["entry"]["balance_after"]) == ("-0.01", "0.00")
    refused(redeem(card, "PAY-5", "0.01"), 409, "insufficient_balance")
    entries = sums_up(card)
    assert [e["kind"] for e in entries] == ["redemption"] * 3 + ["activation"]


def test_a_fixed_value_gift_card_is_sold_at_its_value(world, table):
    first, second, third = issue(table, "split", "B-FIXED", 3)
    refused(sell(first, "SALE-1", "30.00", caller=SELLER), 422, "invalid_value")
    assert ok(sell(first, "SALE-1", caller=SELLER))["instrument"]["balance"] == "25.00"
    assert ok(sell(second, "SALE-2", "25", caller=SELLER))["instrument"]["balance"] == "25.00"
    assert ok(lookup(third), 200)["status"] == "issued"


def test_an_expired_card_is_refused_and_left_as_it_was(world, table):
    card = sold_gift_card(table, "B-EXP", "60.00")
    ok(redeem(card, "PAY-1", "10.00"))
    sold_at = world.now
    world.now = sold_at.replace(year=sold_at.year + 3) - timedelta(seconds=1)
    assert ok(redeem(card, "PAY-2", "10.00"))["instrument"]["balance"] == "40.00"
    world.advance(seconds=1)  # valid until, not including, three years after the sale
    before = balance_and_ledger(card)
    assert before[0]["status"] == "expired"
    body = refused(redeem(card, "PAY-3", "10.00"), 409, "expired")
    assert body["details"][0]["valid_until"].startswith(str(sold_at.year + 3))
    assert balance_and_ledger(card) == before

    # A card not sold before the series' end date cannot be sold after it.
    ends = (world.now + timedelta(days=10)).isoformat()
    ok(put_series("dated", gift_spec(prefix="6100", validity=None, valid_until=ends)))
    (unsold,) = issue(table, "dated", "B-DATED", 1)
    world.advance(days=10)
    assert ok(lookup(unsold), 200)["status"] == "expired"
    refused(sell(unsold, "SALE-LATE", "20.00"), 409, "expired")
    assert balance_and_ledger(unsold)[1] == []


def test_numbers_that_are_not_instruments(world, table):
    card = sold_gift_card(table, "B-NUM", "20.00")
    typo = card[:-1] + str((int(card[-1]) + 1) % 10)
    for reply in (sell(typo, "SALE-T", "20.00"), redeem(typo, "PAY-T", "1.00"), lookup(typo), ledger(typo)):
        body = refused(reply, 422, "invalid_number")
        assert body["details"] == [{"reason": "invalid_number", "field": "number"}]
    payload = "9999" + "0" * 11
    unknown_prefix = payload + luhn_digit(payload)
    payload = "6012" + "9" * 11
    never_issued = payload + luhn_digit(payload)
    for number, code in ((unknown_prefix, "unknown_series"), (never_issued, "instrument_not_found")):
        refused(sell(number, "SALE-N", "20.00"), 404, code)
        refused(redeem(number, "PAY-N", "1.00"), 404, code)
        refused(lookup(number), 404, code)
        refused(ledger(number), 404, code)
    reply = lookup("6012-0000")
    assert (reply.status, reply.body["code"]) == (422, "validation_error")
    assert ok(lookup(card), 200)["balance"] == "20.00"


# ---------------------------------------------------------------------------- store credit
def test_store_credit_is_issued_on_a_return_then_spent(world, table):
    issued = ok(store_credit("RET-1", "40.00"))
    number = issued["instrument"]["number"]
    assert number.startswith("7002") and len(number) == 12 and luhn_digit(number[:-1]) == number[-1]
    assert {k: issued["instrument"][k] for k in ("series_id", "kind", "status", "balance", "currency")} == {
        "series_id": "credit",
        "kind": "store_credit",
        "status": "active",
        "balance": "40.00",
        "currency": "EUR",
    }
    entry = issued["entry"]
    assert (entry["kind"], entry["amount"], entry["reference"], entry["entry_no"]) == (
        "issue",
        "40.00",
        "RET-1",
        1,
    )
    assert (entry["merchant_id"], entry["store_id"]) == ("seller-1", "S-SELL")
    (item,) = [i for i in stored(table, "instrument") if i["number"] == number]
    assert (item["return_reference"], item["issued_by"], item["initial_value"]) == (
        "RET-1",
        "seller-1",
        "40.00",
    )

    assert ok(store_credit("RET-1", "40.00")) == issued
    body = refused(store_credit("RET-1", "41.00"), 409, "idempotency_key_reused")
    assert body["details"][0]["field"] == "return_id"
    other = ok(store_credit("RET-2", "10.00"))["instrument"]["number"]
    assert other != number and issued_count("credit") == 2

    # Refusals draw no number.
    refused(store_credit("RET-3", "200.01"), 422, "invalid_value")
    refused(store_credit("RET-3", "20.00", currency="USD"), 422, "currency_mismatch")
    refused(store_credit("RET-3", "20.00", series_id="gift", caller=STORE), 422, "unsupported_operation")
    refused(store_credit("RET-3", "20.00", series_id="nothing"), 404, "unknown_series")
    refused(store_credit("RET-3", "20.00", customer_id="nobody"), 404, "customer_not_found")
    assert issued_count("credit") == 2

    assert ok(redeem(number, "PAY-1", "15.00", caller=ACCEPTOR))["instrument"]["balance"] == "25.00"
    refused(redeem(number, "PAY-2", "25.01", caller=ACCEPTOR), 409, "insufficient_balance")
    spent = ok(redeem(number, "PAY-3", "25.00", caller=ACCEPTOR))["instrument"]
    assert (spent["status"], spent["balance"]) == ("redeemed", "0.00")
    assert [e["kind"] for e in sums_up(number)] == ["redemption", "redemption", "issue"]


# --------------------------------------------------------------------------------- coupons
def test_a_coupon_is_used_once_until_its_use_is_reversed(world, table):
    coupon, other = issue(table, "promo", "B-PROMO", 2)
    used = ok(redeem(coupon, "USE-1"))
    assert (used["entry"]["kind"], used["entry"]["amount"], used["entry"]["balance_after"]) == (
        "redemption",
        "0.00",
        None,
    )
    assert (used["instrument"]["status"], used["instrument"]["discount"]) == (
        "redeemed",
        {"percent": "10", "amount": None},
    )
    assert ok(redeem(coupon, "USE-1")) == used
    refused(redeem(coupon, "USE-2"), 409, "already_used")
    refused(redeem(other, "USE-3", "5.00"), 422, "invalid_amount")
    assert ok(lookup(other), 200)["status"] == "active"
    refused(sell(other, "SALE-C"), 422, "unsupported_operation")

    refused(reverse(coupon, "USE-1", "UNDO-1", "1.00"), 422, "invalid_amount")
    undone = ok(reverse(coupon, "USE-1", "UNDO-1"))
    assert (undone["instrument"]["status"], undone["entry"]["reverses"], undone["entry"]["amount"]) == (
        "active",
        "USE-1",
        "0.00",
    )
    refused(reverse(coupon, "USE-1", "UNDO-2"), 409, "already_reversed")
    assert ok(redeem(coupon, "USE-2"))["instrument"]["status"] == "redeemed"
    entries = ok(ledger(coupon), 200)["entries"]
    assert [(e["kind"], e["reference"]) for e in entries] == [
        ("redemption", "USE-2"),
        ("reversal", "UNDO-1"),
        ("redemption", "USE-1"),
    ]


# ------------------------------------------------------------------------------- reversals
def test_reversals_refund_a_redemption_at_most_once_in_all(world, table):
    card = sold_gift_card(table, "B-REV", "100.00")
    ok(redeem(card, "PAY-1", "40.00"))
    partial = ok(reverse(card, "PAY-1", "REV-1", "15.00"))
    assert (partial["entry"]["kind"], partial["entry"]["reverses"], partial["entry"]["amount"]) == (
        "reversal",
        "PAY-1",
        "15.00",
    )
    assert partial["instrument"]["balance"] == "75.00"
    assert ok(reverse(card, "PAY-1", "REV-1", "15.00")) == partial
    refused(reverse(card, "PAY-1", "REV-1", "16.00"), 409, "idempotency_key_reused")
    body = refused(reverse(card, "PAY-1", "REV-X", "25.01"), 409, "reversal_exceeds_redemption")
    assert body["details"] == [{"reason": "reversal_exceeds_redemption", "refundable": "25.00"}]
    rest = ok(reverse(card, "PAY-1", "REV-2"))  # no amount: what is left of the redemption
    assert (rest["entry"]["amount"], rest["instrument"]["balance"]) == ("25.00", "100.00")
    for amount in (None, "0.01"):
        refused(reverse(card, "PAY-1", f"REV-{amount}", amount), 409, "reversal_exceeds_redemption")
    refused(reverse(card, "PAY-404", "REV-3"), 404, "redemption_not_found")
    other = sold_gift_card(table, "B-REV-2", "10.00")
    refused(reverse(other, "PAY-1", "REV-4"), 404, "redemption_not_found")  # PAY-1 is the first card's

    # A card spent to zero is active again after a refund.
    ok(redeem(card, "PAY-2", "100.00"))
    assert ok(lookup(card), 200)["status"] == "redeemed"
    back = ok(reverse(card, "PAY-2", "REV-5", "0.50"))["instrument"]
    assert (back["status"], back["balance"]) == ("active", "0.50")
    entries = sums_up(card)
    assert [e["kind"] for e in entries] == [
        "reversal",
        "redemption",
        "reversal",
        "reversal",
        "redemption",
        "activation",
    ]
    assert [e["reverses"] for e in entries if e["kind"] == "reversal"] == ["PAY-2", "PAY-1", "PAY-1"]


# ---------------------------------------------------------------------------------- ledger
def test_the_ledger_is_newest_first_and_pages_with_a_cursor(world, table):
    card = sold_gift_card(table, "B-LEDGER", "50.00")
    for i in range(1, 4):
        ok(redeem(card, f"PAY-{i}", f"{i}.00"))
    ok(reverse(card, "PAY-2", "REV-1"))
    everything = sums_up(card)
    assert [e["entry_no"] for e in everything] == [6, 5, 4, 3, 2]
    assert ok(lookup(card), 200)["balance"] == "46.00"
    pages, query = [], {"limit": "2"}
    while True:
        page = ok(ledger(card, **query), 200)
        pages.append(page["entries"])
        if page["next_cursor"] is None:
            break
        query = {"limit": "2", "cursor": page["next_cursor"]}
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e for p in pages for e in p] == everything
    assert ok(ledger(card, limit="1"), 200)["entries"] == everything[:1]
    reply = ledger(card, limit="0")
    assert (reply.status, reply.body["code"]) == (422, "validation_error")


# ---------------------------------------------------------------------------- cancellations
def cancel(number: str, cancellation_id: str, reason: str = "reported lost", caller: Any = ADMIN) -> Any:
    body = {"cancellation_id": cancellation_id, "reason": reason}
    return call("api_cancel_instrument", caller, path={"number": number}, body=body)


def test_a_cancelled_card_keeps_its_value_frozen_and_refuses_every_movement(world, table):
    card = sold_gift_card(table, "B-CANCEL", "60.00")
    paid = ok(redeem(card, "PAY-1", "10.00"))
    refused(cancel(card, "CS-1", caller=STORE), 403, "forbidden")  # a till's key may not cancel
    assert ok(lookup(card), 200)["status"] == "active"

    done = ok(cancel(card, "CS-1"))
    assert (done["instrument"]["status"], done["instrument"]["balance"]) == ("cancelled", "50.00")
    entry = done["entry"]
    assert (entry["kind"], entry["amount"], entry["balance_after"], entry["reference"], entry["reason"]) == (
        "cancellation",
        "0.00",
        "50.00",
        "CS-1",
        "reported lost",
    )
    assert (entry["merchant_id"], entry["store_id"]) == (None, None)
    assert ok(cancel(card, "CS-1")) == done  # a replay gets the first answer
    refused(cancel(card, "CS-1", "found again"), 409, "idempotency_key_reused")
    refused(cancel(card, "CS-2"), 409, "cancelled")
    before = sums_up(card)
    refused(redeem(card, "PAY-2", "1.00"), 409, "cancelled")
    refused(reverse(card, "PAY-1", "REV-1"), 409, "cancelled")
    refused(sell(card, "SALE-AGAIN"), 409, "cancelled")
    assert ok(redeem(card, "PAY-1", "10.00")) == paid  # an earlier payment's replay still answers
    assert sums_up(card) == before
    assert [e["kind"] for e in before] == ["cancellation", "redemption", "activation"]
    assert ok(lookup(card), 200)["status"] == "cancelled"


def test_an_unsold_card_and_a_coupon_can_be_cancelled(world, table):
    (unsold,) = issue(table, "gift", "B-CANCEL-UNSOLD", 1)
    done = ok(cancel(unsold, "CS-U"))
    assert (done["instrument"]["status"], done["instrument"]["balance"], done["entry"]["entry_no"]) == (
        "cancelled",
        None,
        2,
    )
    refused(sell(unsold, "SALE-U"), 409, "cancelled")
    (coupon,) = issue(table, "promo", "B-CANCEL-PROMO", 1)
    ok(cancel(coupon, "CS-C", "printed by mistake"))
    refused(redeem(coupon, "USE-C"), 409, "cancelled")
    assert [e["kind"] for e in ok(ledger(coupon), 200)["entries"]] == ["cancellation"]
    never = "601299999999999" + luhn_digit("601299999999999")
    refused(cancel(never, "CS-X"), 404, "instrument_not_found")


def test_a_cancellation_needs_a_reason_that_says_something(world, table):
    """A cancellation is written with its reason: one of spaces only was accepted as it."""
    card = sold_gift_card(table, "B-CANCEL-BLANK", "60.00")
    detail = refused(cancel(card, "CS-B", "   "), 422, "validation_error")["details"][0]
    assert (detail["field"], detail["reason"]) == ("reason", "blank")
    assert [e["kind"] for e in ok(ledger(card), 200)["entries"]] == ["activation"]  # still active
