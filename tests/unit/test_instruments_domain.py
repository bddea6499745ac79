"""The pure rules of instruments, series and batches: every refusal of a sale, a store credit, a
redemption and a reversal (with its reason and HTTP status), expiry to the instant, series
validation, validity ends, and how a batch maps its reserved ranges onto numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from loyalty_engine.instruments.batches import (
    Batch,
    BatchView,
    all_numbers,
    check_room,
    export_key,
    index_runs,
    numbers_at,
    series_capacity,
    series_number,
)
from loyalty_engine.instruments.instrument import (
    ActivationRequest,
    CancellationRequest,
    Instrument,
    RedemptionRecord,
    RedemptionRequest,
    ReversalRequest,
    StoreCreditRequest,
    activate,
    cancel,
    new_store_credit,
    redeem,
    reverse,
)
from loyalty_engine.instruments.merchants import Merchant
from loyalty_engine.instruments.numbers import is_valid_number, number_at
from loyalty_engine.instruments.series import Series, SeriesSpec
from loyalty_engine.kernel.errors import DomainError

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
SECRET = "00112233445566778899aabbccddeeff"
STORE = Merchant(
    merchant_id="store-1", name="Store 1", store_id="S001", merchant_groups=["sellers", "tills"],
    created_at=NOW, updated_at=NOW,
)  # fmt: skip
SELLER = Merchant(
    merchant_id="kiosk-1", name="Kiosk", store_id="K001", merchant_groups=["sellers"],
    created_at=NOW, updated_at=NOW,
)  # fmt: skip
TILL = Merchant(
    merchant_id="till-1", name="Till", store_id="T001", merchant_groups=["tills"],
    created_at=NOW, updated_at=NOW,
)  # fmt: skip

SPECS: dict[str, dict[str, Any]] = {
    "gift_card": {"currency": "EUR", "min_value": "5.00", "max_value": "500.00"},
    "store_credit": {"currency": "EUR", "max_value": "1000.00"},
    "coupon": {"discount": {"percent": "10"}},
    "loyalty_card": {},
}


def series(kind: str = "gift_card", **fields: Any) -> Series:
    """A series sold by `sellers` and accepted by `tills` (store-1 is in both)."""
    values: dict[str, Any] = {
        "series_id": kind.replace("_", "-"),
        "name": kind,
        "kind": kind,
        "prefix": "6012",
        "length": 16,
        "issuer_group": "sellers",
        "acceptor_group": "tills",
        "secret": SECRET,
        "created_at": NOW,
        "updated_at": NOW,
        **SPECS[kind],
        **fields,
    }
    return Series.model_validate(values)


def card(status: str = "issued", balance: str | None = None, **fields: Any) -> Instrument:
    values: dict[str, Any] = {
        "number": "6012000000000011",
        "series_id": "gift-card",
        "kind": "gift_card",
        "status": status,
        "currency": "EUR",
        "balance": balance,
        "issued_at": NOW - timedelta(days=30),
        **fields,
    }
    return Instrument.model_validate(values)


def sold(balance: str = "50.00", **fields: Any) -> Instrument:
    return card("active", balance, initial_value="50.00", version=2, **fields)


def coupon(status: str = "active", **fields: Any) -> Instrument:
    return card(status, None, kind="coupon", series_id="coupon", currency=None, **fields)


def refused(code: str, status: int, call: Any, *args: Any) -> None:
    with pytest.raises(DomainError) as raised:
        call(*args)
    assert (raised.value.code, raised.value.status) == (code, status), raised.value.message


def sale(value: str | None = None) -> ActivationRequest:
    return ActivationRequest(activation_id="S-1", value=value)


def pay(amount: str | None = None, currency: str | None = None) -> RedemptionRequest:
    return RedemptionRequest(redemption_id="P-1", amount=amount, currency=currency)


def refund(amount: str | None = None) -> ReversalRequest:
    return ReversalRequest(reversal_id="R-1", amount=amount)


def credit(amount: str = "20.00", currency: str = "EUR") -> StoreCreditRequest:
    return StoreCreditRequest(return_id="RET-1", amount=amount, currency=currency)


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


def test_a_reversal_lands_on_an_expired_card_which_stays_expired():
    expired = sold("5.00", valid_until=NOW - timedelta(days=1))
    after, _, _ = reverse(expired, series(), TILL, paid(), refund(), NOW)
    assert (after.balance, after.status, after.status_at(NOW)) == (Decimal("35.00"), "active", "expired")


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


# --- series -------------------------------------------------------------------------------------


def spec(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Gift",
        "kind": "gift_card",
        "prefix": "6012",
        "length": 16,
        "issuer_group": "sellers",
        "acceptor_group": "tills",
        "currency": "EUR",
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"prefix": "601200000000", "length": 16}, "free digits"),  # 16 - 12 - 1 = 3 < 4
        ({"prefix": "60", "length": 6, "check_digit": False}, "length"),  # below 8 digits
        ({"prefix": "6012", "length": 8, "check_digit": True}, "free digits"),
        ({"currency": None}, "needs a currency"),
        ({"kind": "coupon", "discount": {"percent": "10"}}, "no currency or value"),
        ({"kind": "loyalty_card", "currency": None, "max_value": "10.00"}, "no currency or value"),
        ({"kind": "store_credit", "value": "10.00"}, "only gift cards have a fixed value"),
        ({"value": "10.00", "min_value": "5.00"}, "no min_value or max_value"),
        ({"min_value": "50.00", "max_value": "10.00"}, "must not exceed"),
        ({"kind": "coupon", "currency": None}, "needs a discount"),
        ({"discount": {"amount": "5.00"}}, "needs a discount"),
        ({"kind": "coupon", "currency": None, "discount": {"percent": "10", "amount": "5.00"}}, "either"),
        ({"kind": "coupon", "currency": None, "discount": {}}, "either"),
        ({"value": "10.001"}, "decimal"),
        ({"value": "0"}, "greater than 0"),
        ({"prefix": "60a2"}, "pattern"),
    ],
)
def test_a_series_spec_is_refused_when_inconsistent(fields, message):
    with pytest.raises(ValidationError) as raised:
        SeriesSpec.model_validate(spec(**fields))
    assert message in str(raised.value)


def test_a_series_spec_keeps_money_in_cents_and_accepts_the_shortest_layout():
    accepted = SeriesSpec.model_validate(spec(prefix="601", length=8, min_value="5", max_value="99.9"))
    assert (accepted.min_value, accepted.max_value) == (Decimal("5.00"), Decimal("99.90"))
    assert str(accepted.min_value) == "5.00"
    assert SeriesSpec.model_validate(spec(prefix="6012", length=8, check_digit=False)).length == 8


@pytest.mark.parametrize(
    ("validity", "fixed_end", "expected"),
    [
        (None, None, None),
        ({"value": 30, "unit": "days"}, None, datetime(2027, 1, 9, 12, tzinfo=UTC)),
        ({"value": 3, "unit": "months"}, None, datetime(2027, 3, 10, 12, tzinfo=UTC)),
        (None, datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        # both: whichever ends first
        ({"value": 30, "unit": "days"}, datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (
            {"value": 1, "unit": "weeks"},
            datetime(2027, 1, 1, tzinfo=UTC),
            datetime(2026, 12, 17, 12, tzinfo=UTC),
        ),
    ],
)
def test_the_end_of_validity_is_the_earlier_of_the_period_and_the_fixed_end(validity, fixed_end, expected):
    assert series(validity=validity, valid_until=fixed_end).valid_until_from(NOW) == expected


def test_a_months_validity_keeps_the_day_clamped_to_the_months_end():
    monthly = series(validity={"value": 1, "unit": "month"})
    assert monthly.valid_until_from(datetime(2027, 1, 31, 9, tzinfo=UTC)) == datetime(
        2027, 2, 28, 9, tzinfo=UTC
    )


def test_a_sale_after_the_fixed_end_is_refused_and_before_it_ends_there():
    fixed = series(valid_until=NOW + timedelta(days=1), validity={"value": 1, "unit": "years"})
    unsold = card(valid_until=fixed.valid_until)  # as a batch issues it
    new, _ = activate(unsold, fixed, SELLER, sale("10.00"), NOW)
    assert new.valid_until == NOW + timedelta(days=1)
    refused("expired", 409, activate, unsold, fixed, SELLER, sale("10.00"), NOW + timedelta(days=1))


# --- batches ------------------------------------------------------------------------------------

ranges_st = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 40)).map(lambda t: (t[0], t[0] + t[1])), max_size=6
)


@given(ranges=ranges_st, start=st.integers(0, 300), length=st.integers(0, 300))
def test_index_runs_cover_the_positions_of_the_concatenated_ranges(ranges, start, length):
    concatenated = [index for low, high in ranges for index in range(low, high)]
    runs = list(index_runs(ranges, start, start + length))
    assert all(low < high for low, high in runs)  # no empty run
    assert [index for low, high in runs for index in range(low, high)] == concatenated[start : start + length]


def batch(ranges: list[tuple[int, int]], count: int, excluded: list[str] = ()) -> Batch:  # type: ignore[assignment]
    return Batch(
        batch_id="B-1",
        series_id="gift-card",
        count=count,
        ranges=ranges,
        excluded_prefixes=list(excluded),
        fingerprint="f",
        created_at=NOW,
        updated_at=NOW,
    )


@given(
    ranges=ranges_st.filter(lambda r: any(low < high for low, high in r)),
    start=st.integers(0, 120),
    length=st.integers(0, 120),
    excluded=st.sampled_from([[], ["60125"], ["60120", "60129"], ["601277"]]),
)
def test_a_batch_numbers_skip_the_nested_series_prefixes(ranges, start, length, excluded):
    gift = series()
    concatenated = [index for low, high in ranges for index in range(low, high)]
    drawn = numbers_at(gift, batch(ranges, 10, excluded), start, start + length)
    expected = [number_at("6012", 16, SECRET, i) for i in concatenated[start : start + length]]
    assert drawn == [n for n in expected if not (excluded and n.startswith(tuple(excluded)))]
    assert all(is_valid_number(n) and n.startswith("6012") for n in drawn)


def test_all_numbers_are_cut_to_the_count_after_skipping():
    gift = series()
    ranges = [(0, 60), (100, 140)]
    everything = [number_at("6012", 16, SECRET, i) for low, high in ranges for i in range(low, high)]
    kept = [n for n in everything if not n.startswith("60125")]
    assert len(kept) < len(everything)  # some fall in the nested series
    numbers = all_numbers(gift, batch(ranges, 70, ["60125"]))
    assert numbers == kept[:70]
    assert len(set(numbers)) == 70


def test_a_series_without_check_digit_numbers_like_the_luhn_series_one_digit_longer():
    plain = series(length=15, check_digit=False)
    for index in (0, 1, 99_999):
        number = series_number(plain, index)
        assert len(number) == 15
        assert number == number_at("6012", 16, SECRET, index)[:-1]
    assert series_capacity(plain) == series_capacity(series()) == 10**11


def test_a_series_has_room_for_its_capacity_and_no_more():
    small = series(prefix="60123456789", length=16)  # 4 free digits: 10,000 numbers
    assert series_capacity(small) == 10_000
    check_room(small, 10_000, 0)
    check_room(small, 1, 9_999)
    refused("series_exhausted", 409, check_room, small, 2, 9_999)
    refused("series_exhausted", 409, check_room, small, 0, 10_001)  # over-drawn by a race


def test_a_batch_view_shows_progress_and_its_export():
    pending = batch([(0, 300)], 300).model_copy(update={"issued": 100})
    view = BatchView.of(pending, "exports")
    assert (view.status, view.progress, view.export) == ("pending", 0.3333, None)
    done = pending.model_copy(
        update={"issued": 300, "status": "completed", "export_key": export_key("demo", pending)}
    )
    assert BatchView.of(done, "exports").export == "s3://exports/exports/demo/gift-card/B-1.csv"


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
