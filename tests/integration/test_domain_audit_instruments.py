"""The Centara side (seed 004) as an auditor who read only DOMAIN.md, seed 004 and docs/decisions.md
checks it, through the real handlers on moto, with exact numbers. Each test quotes the rule it
checks; the cases already covered elsewhere (issuer/acceptor refusals, open and fixed values,
prefixes and lengths, store credit idempotency, coupon single use, cancellations, customers' links,
payment rates and refusals) are not repeated here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import ADMIN as POINTS_ADMIN
from tests.integration.conftest import order_body
from tests.support import pay_with_points as points
from tests.support.api import call
from tests.support.clock import FakeClock
from tests.support.instrument_api import (
    ACCEPTOR,
    ADMIN,
    CREDIT,
    PROMO,
    SELLER,
    balance_and_ledger,
    build_world,
    create_batch,
    gift_spec,
    issue,
    lookup,
    ok,
    pos,
    put_merchant,
    put_series,
    redeem,
    refused,
    reverse,
    sell,
    store_credit,
)

ACCEPTOR_2 = pos("acceptor-2")


@pytest.fixture
def world(table) -> FakeClock:
    clock = build_world()
    ok(put_merchant("acceptor-2", "S-ACC-2", ["acceptors"]))
    return clock


def test_a_gift_card_sold_by_the_issuer_group_is_spent_and_refunded_across_acceptor_stores(world, table):
    """Seed 004: gift cards are pre-issued, sold on POS, then used to pay for goods; sellers of a
    series are one merchant group, acceptors another. decisions.md: a reversal needs the acceptor
    group (not the store that was paid), may be partial, and is linked to its redemption."""
    (card,) = issue(table, "split", "B-AUDIT", 1)  # fixed value 25.00
    assert ok(lookup(card), 200)["status"] == "issued"
    assert ok(sell(card, "SALE-1", caller=SELLER))["instrument"]["balance"] == "25.00"
    assert ok(redeem(card, "PAY-1", "12.50", caller=ACCEPTOR))["instrument"]["balance"] == "12.50"
    assert ok(redeem(card, "PAY-2", "12.49", caller=ACCEPTOR_2))["instrument"]["balance"] == "0.01"
    refused(redeem(card, "PAY-3", "0.02", caller=ACCEPTOR_2), 409, "insufficient_balance")
    # Another acceptor store refunds part of the first store's payment.
    back = ok(reverse(card, "PAY-1", "REV-1", "2.50", caller=ACCEPTOR_2))
    assert (back["instrument"]["balance"], back["entry"]["reverses"], back["entry"]["store_id"]) == (
        "2.51",
        "PAY-1",
        "S-ACC-2",
    )
    refused(reverse(card, "PAY-1", "REV-2", "10.01", caller=ACCEPTOR), 409, "reversal_exceeds_redemption")
    view, entries = balance_and_ledger(card)
    assert (view["status"], view["balance"]) == ("active", "2.51")
    assert [(e["kind"], e["amount"], e["store_id"]) for e in entries] == [
        ("reversal", "2.50", "S-ACC-2"),
        ("redemption", "-12.49", "S-ACC-2"),
        ("redemption", "-12.50", "S-ACC"),
        ("activation", "25.00", "S-SELL"),
    ]


def test_a_coupon_is_valid_from_its_batch_for_its_series_validity(world, table):
    """Seed 004: coupons are gateways to activate discounts on the POS; decisions.md: coupons are
    active once issued and their validity runs from the batch."""
    ok(put_series("promo30", {**PROMO, "prefix": "7004", "validity": {"value": 30, "unit": "days"}}))
    batch_at = world.now
    first, second = issue(table, "promo30", "B-PROMO30", 2)
    assert ok(lookup(first), 200)["valid_until"] == (batch_at + timedelta(days=30)).isoformat().replace(
        "+00:00", "Z"
    )
    world.now = batch_at + timedelta(days=30) - timedelta(seconds=1)
    used = ok(redeem(first, "USE-1"))["instrument"]
    assert (used["status"], used["discount"]) == ("redeemed", {"percent": "10", "amount": None})
    world.advance(seconds=1)
    before = balance_and_ledger(second)
    assert before[0]["status"] == "expired"
    refused(redeem(second, "USE-2"), 409, "expired")
    assert balance_and_ledger(second) == before


def test_store_credit_expires_after_its_series_validity(world, table):
    """Seed 004: a store credit is issued on a return instead of cash and then used to pay, like a
    gift card; its series' validity runs from the issue (decisions.md)."""
    ok(put_series("credit1y", {**CREDIT, "prefix": "7005", "validity": {"value": 1, "unit": "year"}}))
    issued_at = world.now
    number = ok(store_credit("RET-1Y", "80.00", series_id="credit1y"))["instrument"]["number"]
    assert ok(redeem(number, "PAY-1", "30.00", caller=ACCEPTOR))["instrument"]["balance"] == "50.00"
    world.now = issued_at.replace(year=issued_at.year + 1)
    before = balance_and_ledger(number)
    assert (before[0]["status"], before[0]["balance"]) == ("expired", "50.00")
    refused(redeem(number, "PAY-2", "1.00", caller=ACCEPTOR), 409, "expired")
    assert balance_and_ledger(number) == before


# ------------------------------------------------------------- points as a payment (seed 004)
@pytest.fixture
def payments(table) -> FakeClock:
    return points.payments_world()


def test_points_earned_on_a_product_group_pay_at_an_acceptor_store(payments):
    """Seed 004: customers earn loyalty points by purchasing products or products from groups set
    up to give points; those points are then used as a payment. points.md: rate 10 points a euro,
    a wine line earns double, tobacco nothing; a payment costs floor(amount x rate)."""
    program = points.program_body(
        earning_rules=[
            {"product_group": "wine", "multiplier": "2"},
            {"product_group": "tobacco", "points_per_unit": 0},
        ]
    )
    assert call("api_put_program", POINTS_ADMIN, body=program).status == 200
    lines: list[dict[str, Any]] = [
        {"sku": "W-1", "quantity": 2, "amount": "30.00", "product_group": "wine"},  # 600
        {"sku": "T-1", "quantity": 1, "amount": "10.00", "product_group": "tobacco"},  # 0
        {"sku": "B-1", "quantity": 1, "amount": "5.55"},  # 55
    ]
    ordered_at: datetime = payments.now - timedelta(days=20)  # holding period (14 days) over
    body = order_body(order_id="SHOP-1", amount="45.55", ordered_at=ordered_at.isoformat(), lines=lines)
    earned = call("api_earn_order", points.TILL, body=body)
    assert earned.status == 201, earned.body
    assert earned.body["balances"]["nq"]["available"] == 655
    paid = points.pay("PAY-1", "12.34")
    assert paid.status == 201, paid.body
    assert (paid.body["points"], paid.body["balances"]["nq"]["available"]) == (123, 532)
    refused(points.pay("PAY-2", "53.30"), 409, "insufficient_points")
    assert call("api_get_member", points.TILL).body["balances"]["nq"]["available"] == 532


def test_no_refund_lands_on_an_instrument_whose_validity_has_ended(world, table):
    """Open question (a), decided in decisions.md: a refund onto a card that has expired meanwhile
    would be money the customer can never spend, answered 201 as if they had it back. It is refused
    (409 expired, with the card's end of validity) and changes nothing: the till refunds another
    way (cash, or store credit on the return, as seed 004 says). A replay of a reversal made in
    time still answers."""
    card = ok(sell(issue(table, "gift", "B-LATE", 1)[0], "SALE-1", "60.00"))["instrument"]["number"]
    ok(redeem(card, "PAY-1", "20.00"))
    in_time = ok(reverse(card, "PAY-1", "REV-1", "5.00"))
    spent = ok(sell(issue(table, "gift", "B-SPENT", 1)[0], "SALE-2", "10.00"))["instrument"]["number"]
    ok(redeem(spent, "PAY-2", "10.00"))  # spent to zero: `redeemed`
    ok(put_series("promo3y", {**PROMO, "prefix": "7004", "validity": {"value": 3, "unit": "years"}}))
    (coupon,) = issue(table, "promo3y", "B-USED", 1)
    ok(redeem(coupon, "USE-1"))  # used: `redeemed`
    world.now = world.now.replace(year=world.now.year + 3)  # the `gift` series: valid 3 years
    for number, redemption_id, amount in (
        (card, "PAY-1", "1.00"),
        (spent, "PAY-2", "1.00"),
        (coupon, "USE-1", None),
    ):
        before = balance_and_ledger(number)
        body = refused(reverse(number, redemption_id, f"REV-LATE-{number}", amount), 409, "expired")
        ends = datetime.fromisoformat(before[0]["valid_until"])
        assert datetime.fromisoformat(body["details"][0]["valid_until"]) == ends
        assert balance_and_ledger(number) == before
    assert ok(reverse(card, "PAY-1", "REV-1", "5.00")) == in_time


def test_a_validity_counts_in_the_series_time_zone_as_the_points_side_does(world, table):
    """Open question (b), decided in decisions.md: a gift card sold on 1 March at 00:30 in the
    stores' time zone and valid a month is valid until 1 April 00:30 there, as a program counts its
    points (the sources are silent). Counted in UTC it ended on 29 March (28 February 23:30 UTC +
    a month). A series names its zone (`time_zone`, default Etc/GMT-1 as a program's)."""
    month = {"value": 1, "unit": "month"}
    ok(put_series("paris", {**CREDIT, "prefix": "7006", "validity": month, "time_zone": "Europe/Paris"}))
    ok(put_series("plain", {**CREDIT, "prefix": "7007", "validity": month}))  # Etc/GMT-1
    assert ok(call("api_get_series", ADMIN, path={"series_id": "plain"}), 200)["time_zone"] == "Etc/GMT-1"
    world.now = datetime(2027, 2, 28, 23, 30, tzinfo=UTC)  # 1 March 00:30 in Paris (CET) and GMT+1
    paris = ok(store_credit("RET-P", "10.00", series_id="paris"))["instrument"]
    plain = ok(store_credit("RET-G", "10.00", series_id="plain"))["instrument"]
    assert paris["valid_until"] == "2027-03-31T22:30:00Z"  # 1 April 00:30 CEST
    assert plain["valid_until"] == "2027-03-31T23:30:00Z"  # 1 April 00:30 GMT+1
    body = refused(
        put_series("bad", {**CREDIT, "prefix": "7008", "time_zone": "Mars/Base"}), 422, "validation_error"
    )
    assert body["details"][0]["field"] == "time_zone"


def test_an_expired_refusal_gives_the_end_of_validity_as_every_answer_writes_a_time(world, table):
    """A till reads `valid_until` from a 409 `expired` to tell the customer; it came as
    "2029-12-10 12:00:00+00:00" where the instrument's own view (and every other answer) writes
    "2029-12-10T12:00:00Z" (docs/decisions.md: all times are UTC, `…Z`)."""
    card = ok(sell(issue(table, "gift", "B-FMT", 1)[0], "SALE-1", "20.00"))["instrument"]
    world.now = world.now.replace(year=world.now.year + 3)
    body = refused(redeem(card["number"], "PAY-1", "1.00"), 409, "expired")
    assert body["details"][0]["valid_until"] == card["valid_until"] == "2029-12-10T12:00:00Z"


def test_no_store_credit_is_issued_already_expired(world, table):
    """Seed 004: a store credit is issued on a return *instead of cash*, for the customer to pay
    with later. A series whose fixed end has passed issued one anyway (201), `expired` from its
    first second: the store believed it had refunded, the customer held nothing. Now refused
    (409 expired, as a gift card sold after its end), drawing no number."""
    ended = (world.now - timedelta(days=1)).isoformat()
    ok(put_series("ended", {**CREDIT, "prefix": "7009", "valid_until": ended}))
    body = refused(store_credit("RET-LATE", "10.00", series_id="ended"), 409, "expired")
    assert body["details"][0]["valid_until"] == ended.replace("+00:00", "Z")
    assert ok(call("api_get_series", ADMIN, path={"series_id": "ended"}), 200)["issued"] == 0


def test_no_batch_pre_issues_instruments_of_a_series_that_has_ended(world, table):
    """Seed 004: gift cards are pre-issued to be sold, coupons to activate a discount. A batch of a
    series whose fixed end has passed wrote cards that could never be sold and coupons `expired`
    from their first second (201 completed). Now refused (409 expired), drawing no number; a batch
    created in time still answers its replay."""
    ends = world.now + timedelta(days=1)
    ok(put_series("ending", {**PROMO, "prefix": "7010", "valid_until": ends.isoformat()}))
    (coupon,) = issue(table, "ending", "B-IN-TIME", 1)
    world.advance(days=1)
    body = refused(create_batch("ending", "B-LATE", 2), 409, "expired")
    assert body["details"][0]["valid_until"] == ends.isoformat().replace("+00:00", "Z")
    assert ok(call("api_get_series", ADMIN, path={"series_id": "ending"}), 200)["issued"] == 1
    assert ok(create_batch("ending", "B-IN-TIME", 1))["issued"] == 1
    assert ok(lookup(coupon), 200)["status"] == "expired"


def test_an_unsold_gift_card_follows_its_series_end_when_it_is_moved(world, table):
    """decisions.md: a gift card's validity runs from its sale; a series' `valid_until` is the end
    of every instrument. A retailer who extends a series' end expects the cards still in the
    drawer to sell: they kept the end of their batch (lookup `expired`, sale 409). An unsold card
    follows its series' end as it is now, moved later or earlier; a sold one keeps its own."""
    ends, later = world.now + timedelta(days=10), world.now + timedelta(days=100)
    spec = {"prefix": "6100", "validity": None}
    ok(put_series("dated", gift_spec(**spec, valid_until=ends.isoformat())))
    unsold, sold = issue(table, "dated", "B-DATED", 2)
    assert ok(sell(sold, "SALE-1", "20.00"))["instrument"]["valid_until"] == ends.isoformat().replace(
        "+00:00", "Z"
    )
    ok(put_series("dated", gift_spec(**spec, valid_until=later.isoformat())), 200)
    world.advance(days=20)
    view = ok(lookup(unsold), 200)
    assert (view["status"], view["valid_until"]) == ("issued", later.isoformat().replace("+00:00", "Z"))
    assert ok(sell(unsold, "SALE-2", "30.00"))["instrument"]["status"] == "active"
    assert ok(lookup(sold), 200)["status"] == "expired"
    (drawer,) = issue(table, "dated", "B-DATED-2", 1)
    ok(put_series("dated", gift_spec(**spec, valid_until=world.now.isoformat())), 200)  # ended now
    assert ok(lookup(drawer), 200)["status"] == "expired"
    refused(sell(drawer, "SALE-3", "30.00"), 409, "expired")


def test_a_coupon_worth_an_amount_off_names_its_currency(world, table):
    """Seed 000: "5€ off for a minimum order amount of 15€"; DOMAIN.md: money is a Decimal, and every
    other amount of the engine (gift cards, store credit, orders, payments) carries its currency.
    An amount off with no currency let a till of another currency take 5 of its own units off: an
    amount-off coupon series needs its currency (a percent off needs none), its coupons carry it,
    and a till that says it pays in another currency is refused, nothing used."""
    five_off = {**PROMO, "name": "Five off", "prefix": "7005", "discount": {"amount": "5"}}
    missing = refused(put_series("five", five_off), 422, "validation_error")
    assert any("currency" in str(detail) for detail in missing["details"]), missing
    created = ok(put_series("five", {**five_off, "currency": "EUR"}))
    assert (created["currency"], created["discount"]) == ("EUR", {"percent": None, "amount": "5.00"})
    refused(put_series("ten-pc", {**PROMO, "prefix": "7006", "currency": "EUR"}), 422, "validation_error")
    coupon, other = issue(table, "five", "B-FIVE", 2)
    assert ok(lookup(coupon), 200)["currency"] == "EUR"
    refused(redeem(coupon, "USE-USD", currency="USD"), 422, "currency_mismatch")
    assert ok(lookup(coupon), 200)["status"] == "active"
    used = ok(redeem(coupon, "USE-EUR", currency="EUR"))["instrument"]
    assert (used["status"], used["currency"], used["discount"]["amount"]) == ("redeemed", "EUR", "5.00")
    assert ok(redeem(other, "USE-ANY"))["instrument"]["status"] == "redeemed"  # no currency said: as before
