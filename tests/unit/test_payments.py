"""Paying with points: conversion, and what reversals give back (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.kernel.errors import DomainError
from loyalty_engine.kernel.idempotency import StoredAnswer
from loyalty_engine.points.payments import PaymentRecord, parts_back, points_for_payment, reversal_points
from loyalty_engine.points.programs import PaymentSettings

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def settings_at(rate: str) -> PaymentSettings:
    return PaymentSettings(rate=Decimal(rate), currency="EUR", acceptor_merchant_group="stores")


def test_points_are_the_amount_at_the_rate_rounded_down():
    assert points_for_payment(Decimal("25.00"), settings_at("10")) == 250
    assert points_for_payment(Decimal("0.19"), settings_at("10")) == 1
    assert points_for_payment(Decimal("3.00"), settings_at("0.5")) == 1
    with pytest.raises(DomainError) as refused:
        points_for_payment(Decimal("1.99"), settings_at("0.5"))
    assert refused.value.code == "payment_too_small"


def record(amount: Decimal, taken: list[tuple[int, datetime | None]]) -> PaymentRecord:
    return PaymentRecord(
        payment_id="P",
        program_id="club",
        merchant_id="m",
        amount=amount,
        currency="EUR",
        points=sum(p for p, _ in taken),
        acceptor_merchant_group="stores",
        taken=taken,
        answer=StoredAnswer(fingerprint="f", status=201, body={}),
    )


def test_parts_come_back_latest_expiring_first():
    soon, later = NOW + timedelta(days=1), NOW + timedelta(days=100)
    paid = record(Decimal("10.00"), [(30, soon), (50, later), (20, None)])
    assert parts_back(paid, 60) == [(20, None), (40, later)]
    after = paid.model_copy(update={"reversed_points": 60})
    assert parts_back(after, 40) == [(10, later), (30, soon)]


taken_parts = st.lists(
    st.tuples(
        st.integers(1, 10_000), st.none() | st.integers(1, 1000).map(lambda d: NOW + timedelta(days=d))
    ),
    min_size=1,
    max_size=6,
)
cents = st.integers(1, 1_000_000).map(lambda c: Decimal(c) / 100)


@settings(max_examples=300, deadline=None)
@given(taken=taken_parts, amount=cents, cuts=st.lists(st.integers(1, 100), min_size=1, max_size=8))
def test_partial_reversals_give_back_exactly_what_was_spent(taken, amount, cuts):
    """Whatever the refunds, their points add up to the payment's when the whole amount is
    refunded, never more; and the parts given back are the lots taken, expiry for expiry."""
    paid = record(amount, sorted(taken, key=lambda p: (p[1] is None, p[1] or NOW)))
    total = sum(cuts)
    shares = [amount * cut / total for cut in cuts]
    given_back: list[tuple[int, datetime | None]] = []
    refunded = Decimal(0)
    for n, share in enumerate(shares):
        refunded = amount if n == len(shares) - 1 else min(amount, refunded + share.quantize(Decimal("0.01")))
        points = reversal_points(paid, refunded)
        parts = parts_back(paid, points)
        assert sum(p for p, _ in parts) == points
        given_back += parts
        paid = paid.model_copy(
            update={"reversed_amount": refunded, "reversed_points": paid.reversed_points + points}
        )
        assert paid.reversed_points <= paid.points
    assert paid.reversed_points == paid.points
    by_expiry: dict[datetime | None, int] = {}
    for points, expiry in given_back:
        by_expiry[expiry] = by_expiry.get(expiry, 0) + points
    spent: dict[datetime | None, int] = {}
    for points, expiry in taken:
        spent[expiry] = spent.get(expiry, 0) + points
    assert by_expiry == spent
