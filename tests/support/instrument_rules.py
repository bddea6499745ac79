"""Instruments for the unit tests of their pure rules: the merchants, a series of each kind, cards in
each status and the requests made on them, and the check of a refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loyalty_engine.instruments.instrument import (
    ActivationRequest,
    Instrument,
    RedemptionRequest,
    ReversalRequest,
    StoreCreditRequest,
)
from loyalty_engine.instruments.merchants import Merchant
from loyalty_engine.instruments.series import Series
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
