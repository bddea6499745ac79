"""The reference model of the instrument state machine (tests/support/instrument_machine.py): the
wallet series, the model's card and the requests it replays."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from loyalty_engine.instruments.instrument import Instrument, RedemptionRecord
from tests.support.api import Reply, call
from tests.support.instruments import (
    ADMIN,
    issue,
    redeem,
    reverse,
    sell,
)

SERIES = "wallet"
VALIDITY = timedelta(days=60)
MIN_VALUE, MAX_VALUE = Decimal("5.00"), Decimal("500.00")
WALLET = {
    "name": "Wallet cards",
    "kind": "gift_card",
    "prefix": "6030",
    "length": 16,
    "issuer_group": "stores",
    "acceptor_group": "stores",
    "currency": "EUR",
    "min_value": "5.00",
    "max_value": "500.00",
    "validity": {"value": 60, "unit": "days"},
}
CENT = Decimal("0.01")
# outlet-1 calls 1 time in 8 (not on 0: Hypothesis draws the simplest value more often)
WRONG_GROUP_SOMETIMES = st.integers(0, 7).map(lambda n: n == 3)


def decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def money(cents: int) -> str:
    return str((Decimal(cents) * CENT).quantize(CENT))


@dataclass
class Done:
    """An answered (201) request: replaying it must give `reply` again."""

    kind: str  # activation, redemption, reversal, cancellation
    key: str
    args: dict[str, Any]
    reply: Reply


@dataclass
class Stored:
    instrument: Instrument
    records: dict[str, RedemptionRecord]  # by redemption id


@dataclass
class ModelRedemption:
    amount: Decimal
    reversed: Decimal = Decimal(0)


@dataclass
class Model:
    status: str = "issued"  # as stored: issued, active, redeemed, cancelled
    balance: Decimal | None = None
    valid_until: datetime | None = None
    activated: Decimal = Decimal(0)
    redemptions: dict[str, ModelRedemption] = field(default_factory=dict)
    entries: list[tuple[str, Decimal]] = field(default_factory=list)  # (kind, amount)

    def status_at(self, now: datetime) -> str:
        if self.status in ("issued", "active") and self.valid_until is not None and now >= self.valid_until:
            return "expired"
        return self.status


unsold_cards: list[str] = []
_batches = itertools.count()


def fresh_card() -> str:
    """A pre-issued card of the wallet series never used before (issued 25 at a time)."""
    if not unsold_cards:
        unsold_cards.extend(issue(SERIES, f"B-{next(_batches)}", 25))
    return unsold_cards.pop()


def cancel(number: str, key: str, reason: str) -> Reply:
    body = {"cancellation_id": key, "reason": reason}
    return call("api_cancel_instrument", ADMIN, path={"number": number}, body=body)


def send(done: Done, **changes: Any) -> Reply:
    """An answered request again, with `changes` to its body or caller."""
    args = {**done.args, **changes}
    if done.kind == "cancellation":
        return cancel(args["number"], done.key, args["reason"])
    if done.kind == "activation":
        return sell(args["number"], args["value"], done.key, caller=args["caller"])
    if done.kind == "redemption":
        return redeem(args["number"], done.key, args["amount"], caller=args["caller"])
    return reverse(args["number"], args["redemption_id"], done.key, args["amount"], caller=args["caller"])
