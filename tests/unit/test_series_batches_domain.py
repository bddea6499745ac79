"""The pure rules of series and batches: series validation, validity ends, and how a batch maps its
reserved ranges onto numbers."""

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
    activate,
)
from loyalty_engine.instruments.numbers import is_valid_number, number_at
from loyalty_engine.instruments.series import SeriesSpec
from tests.support.instrument_rules import NOW, SECRET, SELLER, card, refused, sale, series

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
