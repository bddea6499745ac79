"""The pure rules of instruments: every refusal of a sale, a store credit, a redemption, a reversal
and a cancellation (with its reason and HTTP status), and expiry to the instant. Series and
batches: test_series_batches_domain.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from loyalty_engine.instruments.instrument import (
    CancellationRequest,
    RedemptionRecord,
    activate,
    cancel,
    new_store_credit,
    redeem,
    reverse,
)
from loyalty_engine.kernel.errors import DomainError
from tests.support.instrument_rules import (
    NOW,
    SELLER,
    STORE,
    TILL,
    card,
    coupon,
    credit,
    pay,
    refund,
    refused,
    sale,
    series,
    sold,
)

# --- activation ---------------------------------------------------------------------------------


def test_a_sale_activates_the_card_with_its_value_and_validity():
    gift = series(validity={"value": 1, "unit": "years"})
    new, entry = activate(card(), gift, SELLER, sale("25"), NOW)
    assert (new.status, new.balance, new.initial_value, new.version) == (
        "active",
        Decimal("25.00"),
        Decimal("25.00"),
        2,
    )
    assert (new.activated_at, new.activated_by, new.valid_until) == (
        NOW,
        "kiosk-1",
        datetime(2027, 12, 10, 12, tzinfo=UTC),
    )
    assert (entry.entry_no, entry.kind, entry.amount, entry.balance_after, entry.status_after) == (
        2, "activation", Decimal("25.00"), Decimal("25.00"), "active"
    )  # fmt: skip
    assert (entry.merchant_id, entry.store_id, entry.reference) == ("kiosk-1", "K001", "S-1")


@pytest.mark.parametrize(
    ("instrument", "spec", "merchant", "request_", "code", "status"),
    [
        (coupon("issued"), series("coupon"), SELLER, sale(), "unsupported_operation", 422),
        (card(), series(), TILL, sale("25.00"), "wrong_merchant_group", 403),  # an acceptor, not a seller
        (card(valid_until=NOW), series(), SELLER, sale("25.00"), "expired", 409),
        (card("cancelled"), series(), SELLER, sale("25.00"), "cancelled", 409),
        (sold(), series(), SELLER, sale("25.00"), "already_active", 409),
        (card("redeemed", "0.00"), series(), SELLER, sale("25.00"), "already_active", 409),
        (card(), series(), SELLER, sale(None), "invalid_value", 422),  # open value: the amount is needed
        (card(), series(), SELLER, sale("4.99"), "invalid_value", 422),
        (card(), series(), SELLER, sale("500.01"), "invalid_value", 422),
        (
            card(),
            series(value="50.00", min_value=None, max_value=None),
            SELLER,
            sale("40.00"),
            "invalid_value",
            422,
        ),
    ],
)
def test_a_sale_is_refused_with_its_reason(instrument, spec, merchant, request_, code, status):
    refused(code, status, activate, instrument, spec, merchant, request_, NOW)


def test_a_fixed_value_card_sells_at_its_value_with_or_without_it_in_the_request():
    fixed = series(value="50", min_value=None, max_value=None)
    for value in (None, "50.00"):
        new, _ = activate(card(), fixed, SELLER, sale(value), NOW)
        assert new.balance == Decimal("50.00")


# --- store credit -------------------------------------------------------------------------------


def test_store_credit_is_issued_active_with_its_amount():
    spec = series("store_credit", prefix="6099", validity={"value": 6, "unit": "months"})
    new, entry = new_store_credit("6099000000000017", spec, SELLER, credit("19.9"), NOW)
    assert (new.kind, new.status, new.balance, new.issued_by, new.return_reference) == (
        "store_credit", "active", Decimal("19.90"), "kiosk-1", "RET-1"
    )  # fmt: skip
    assert new.valid_until == datetime(2027, 6, 10, 12, tzinfo=UTC)
    assert (entry.kind, entry.amount, entry.entry_no, entry.reference) == (
        "issue",
        Decimal("19.90"),
        1,
        "RET-1",
    )


@pytest.mark.parametrize(
    ("spec", "merchant", "request_", "code", "status"),
    [
        (series(), SELLER, credit(), "unsupported_operation", 422),
        (series("store_credit"), TILL, credit(), "wrong_merchant_group", 403),
        (series("store_credit"), SELLER, credit(currency="USD"), "currency_mismatch", 422),
        (series("store_credit"), SELLER, credit("1000.01"), "invalid_value", 422),
        (series("store_credit", min_value="1.00"), SELLER, credit("0.99"), "invalid_value", 422),
    ],
)
def test_store_credit_is_refused_with_its_reason(spec, merchant, request_, code, status):
    refused(code, status, new_store_credit, "6099000000000017", spec, merchant, request_, NOW)


# --- redemption ---------------------------------------------------------------------------------


def test_a_payment_takes_part_of_the_balance_then_the_rest_redeems_the_card():
    gift = series()
    after, entry, record = redeem(sold("50.00"), gift, TILL, pay("12.5"), NOW)
    assert (after.balance, after.status, after.version) == (Decimal("37.50"), "active", 3)
    assert (entry.kind, entry.amount, entry.balance_after, entry.entry_no) == (
        "redemption", Decimal("-12.50"), Decimal("37.50"), 3
    )  # fmt: skip
    assert record == RedemptionRecord(
        redemption_id="P-1", amount=Decimal("12.50"), entry_no=3, merchant_id="till-1"
    )
    last, entry, _ = redeem(after, gift, STORE, pay("37.50", "EUR"), NOW)
    assert (last.balance, last.status, entry.status_after) == (Decimal("0.00"), "redeemed", "redeemed")


def test_a_coupon_is_used_once_for_nothing_off_the_balance():
    used, entry, record = redeem(coupon(), series("coupon", prefix="7100"), TILL, pay(), NOW)
    assert (used.status, entry.amount, entry.balance_after, record.amount) == ("redeemed", 0, None, 0)


@pytest.mark.parametrize(
    ("instrument", "kind", "merchant", "request_", "code", "status"),
    [
        (sold(kind="loyalty_card"), "loyalty_card", TILL, pay("1.00"), "unsupported_operation", 422),
        (sold(), "gift_card", SELLER, pay("1.00"), "wrong_merchant_group", 403),  # a seller, not an acceptor
        (sold(valid_until=NOW), "gift_card", TILL, pay("1.00"), "expired", 409),
        (card("cancelled", "50.00"), "gift_card", TILL, pay("1.00"), "cancelled", 409),
        (card(), "gift_card", TILL, pay("1.00"), "not_active", 409),
        (card("redeemed", "0.00"), "gift_card", TILL, pay("0.01"), "insufficient_balance", 409),
        (sold("10.00"), "gift_card", TILL, pay("10.01"), "insufficient_balance", 409),
        (sold(), "gift_card", TILL, pay(None), "invalid_amount", 422),
        (sold(), "gift_card", TILL, pay("1.00", "USD"), "currency_mismatch", 422),
        (coupon("redeemed"), "coupon", TILL, pay(), "already_used", 409),
        (coupon(), "coupon", TILL, pay("1.00"), "invalid_amount", 422),
        (coupon(valid_until=NOW - timedelta(microseconds=1)), "coupon", TILL, pay(), "expired", 409),
    ],
)
def test_a_payment_is_refused_with_its_reason(instrument, kind, merchant, request_, code, status):
    refused(code, status, redeem, instrument, series(kind), merchant, request_, NOW)


def test_a_refusal_names_the_balance_left():
    with pytest.raises(DomainError) as raised:
        redeem(sold("10.00"), series(), TILL, pay("10.01"), NOW)
    assert raised.value.details == [{"reason": "insufficient_balance", "balance": "10.00"}]


# --- reversal -----------------------------------------------------------------------------------


def paid(amount: str = "30.00", reversed_: str = "0", undone: bool = False) -> RedemptionRecord:
    return RedemptionRecord(
        redemption_id="P-1",
        amount=amount,
        reversed=reversed_,
        undone=undone,
        entry_no=3,
        merchant_id="till-1",
    )


def test_a_reversal_refunds_part_then_the_rest_of_a_payment():
    gift = series()
    after, entry, record = reverse(card("redeemed", "0.00", version=3), gift, TILL, paid(), refund("10"), NOW)
    assert (after.balance, after.status, after.version) == (Decimal("10.00"), "active", 4)
    assert (entry.kind, entry.amount, entry.reverses, entry.reference) == (
        "reversal",
        Decimal("10.00"),
        "P-1",
        "R-1",
    )
    assert record.reversed == Decimal("10.00")
    rest, entry, record = reverse(after, gift, STORE, record, refund(None), NOW)
    assert (rest.balance, entry.amount, record.reversed) == (
        Decimal("30.00"),
        Decimal("20.00"),
        Decimal("30.00"),
    )


def test_no_reversal_lands_on_an_instrument_whose_validity_has_ended():
    """Money refunded onto an expired card could never be spent: the till refunds another way."""
    for instrument in (sold("5.00", valid_until=NOW), card("redeemed", "0.00", valid_until=NOW)):
        refused("expired", 409, reverse, instrument, series(), TILL, paid(), refund(), NOW)
    used = coupon("redeemed", valid_until=NOW - timedelta(days=1))
    refused("expired", 409, reverse, used, series("coupon", prefix="7100"), TILL, paid("0"), refund(), NOW)
    after, _, _ = reverse(
        sold("5.00", valid_until=NOW + timedelta(seconds=1)), series(), TILL, paid(), refund(), NOW
    )
    assert (after.balance, after.status) == (Decimal("35.00"), "active")


def test_a_coupon_use_reversed_makes_it_usable_again_once():
    promo = series("coupon", prefix="7100")
    after, entry, record = reverse(coupon("redeemed"), promo, TILL, paid("0"), refund(), NOW)
    assert (after.status, entry.amount, record.undone) == ("active", 0, True)
    refused("already_reversed", 409, reverse, after, promo, TILL, record, refund(), NOW)


@pytest.mark.parametrize(
    ("instrument", "kind", "merchant", "record", "request_", "code", "status"),
    [
        (sold(), "gift_card", SELLER, paid(), refund(), "wrong_merchant_group", 403),
        (card("cancelled", "0.00"), "gift_card", TILL, paid(), refund(), "cancelled", 409),
        (sold(), "gift_card", TILL, paid("30.00"), refund("30.01"), "reversal_exceeds_redemption", 409),
        (
            sold(),
            "gift_card",
            TILL,
            paid("30.00", "25.00"),
            refund("5.01"),
            "reversal_exceeds_redemption",
            409,
        ),
        (sold(), "gift_card", TILL, paid("30.00", "30.00"), refund(None), "reversal_exceeds_redemption", 409),
        (coupon("redeemed"), "coupon", TILL, paid("0"), refund("1.00"), "invalid_amount", 422),
        (coupon(), "coupon", TILL, paid("0", undone=True), refund(), "already_reversed", 409),
    ],
)
def test_a_reversal_is_refused_with_its_reason(instrument, kind, merchant, record, request_, code, status):
    refused(code, status, reverse, instrument, series(kind), merchant, record, request_, NOW)


# --- expiry to the instant ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["issued", "active"])
def test_an_instrument_expires_at_the_exact_instant_of_its_validity(status):
    instrument = card(status, valid_until=NOW)
    assert instrument.status_at(NOW - timedelta(microseconds=1)) == status
    assert instrument.status_at(NOW) == "expired"
    assert card(status).status_at(datetime(9999, 1, 1, tzinfo=UTC)) == status  # no end: never


@pytest.mark.parametrize("status", ["redeemed", "cancelled"])
def test_a_used_or_cancelled_instrument_keeps_its_status_past_its_validity(status):
    assert card(status, "0.00", valid_until=NOW).status_at(NOW + timedelta(days=1)) == status


def test_a_payment_at_the_last_microsecond_passes_and_at_the_end_is_refused():
    instrument = sold(valid_until=NOW)
    after, _, _ = redeem(instrument, series(), TILL, pay("1.00"), NOW - timedelta(microseconds=1))
    assert after.balance == Decimal("49.00")
    refused("expired", 409, redeem, instrument, series(), TILL, pay("1.00"), NOW)


# --- cancellation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "instrument",
    [card(), sold("12.34"), card("redeemed", "0.00"), coupon(), sold(valid_until=NOW - timedelta(days=1))],
    ids=["unsold", "sold", "spent", "coupon", "expired"],
)
def test_a_cancellation_freezes_what_is_left_and_every_movement_is_refused_after(instrument):
    request = CancellationRequest(cancellation_id="C-1", reason="stolen")
    new, entry = cancel(instrument, request, NOW)
    assert (new.status, new.balance, new.version) == ("cancelled", instrument.balance, instrument.version + 1)
    assert (entry.entry_no, entry.kind, entry.amount, entry.balance_after, entry.status_after) == (
        new.version, "cancellation", Decimal(0), instrument.balance, "cancelled"
    )  # fmt: skip
    assert (entry.reference, entry.reason, entry.merchant_id, entry.at) == ("C-1", "stolen", None, NOW)
    assert new.status_at(NOW + timedelta(days=5000)) == "cancelled"  # never "expired" instead
    refused("cancelled", 409, cancel, new, request, NOW)
    kind = "coupon" if instrument.kind == "coupon" else "gift_card"
    refused(
        "cancelled", 409, redeem, new, series(kind), STORE, pay(None if kind == "coupon" else "1.00"), NOW
    )
    if kind == "gift_card":
        refused("cancelled", 409, activate, new, series(), STORE, sale("10.00"), NOW)
        record = RedemptionRecord(redemption_id="P-0", amount="5.00", entry_no=2, merchant_id="store-1")
        refused("cancelled", 409, reverse, new, series(), STORE, record, refund(), NOW)


def test_a_cancellation_names_its_reason():
    for reason in ("", "x" * 501):
        with pytest.raises(ValidationError):
            CancellationRequest(cancellation_id="C-1", reason=reason)
