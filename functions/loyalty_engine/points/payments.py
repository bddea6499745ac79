"""Paying with points at a point of sale, and reversing such a payment (pure rules and models).

A payment converts an amount of money into NQ points at the program's `payment.rate` (points
per currency unit, rounded down: the member never pays more points than the amount is worth)
and spends them like a burn, soonest-expiring lots first. Its record keeps where the points
came from (the points and the expiry of each lot they were taken from), so that a reversal
gives them back with the expiry they had: latest-expiring first, in new lots, and never more
than the payment spent.
"""

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from loyalty_engine.kernel.errors import Conflict, DomainError, Forbidden, InvalidRequest, NotFound
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN, StoredAnswer
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.types import Slug, plain_decimal
from loyalty_engine.points.ledger import LedgerEntry, Lot
from loyalty_engine.points.members import Balances
from loyalty_engine.points.programs import PaymentSettings, Program

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Money always has two decimals ("25.00"), however it was sent ("25", "25.0")."""
    return value.quantize(CENT)


Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2, description="Money, two decimals at most"),
    BeforeValidator(plain_decimal),
    AfterValidator(money),
]


class PaymentRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    payment_id: str = Field(pattern=NATURAL_KEY_PATTERN, description="Unique per member; the idempotency key")
    program_id: Slug = Field(description="The member's program (its points pay)")
    amount: Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class PaymentReversalRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    reversal_id: str = Field(
        pattern=NATURAL_KEY_PATTERN, description="Unique per payment; the idempotency key"
    )
    amount: Annotated[Decimal, BeforeValidator(plain_decimal)] | None = Field(
        default=None,
        gt=0,
        max_digits=12,
        decimal_places=2,
        description="Amount refunded; absent = all the rest",
    )


class PaymentResult(DeferredModel):
    payment_id: str
    card_code: str
    program_id: str
    merchant_id: str
    amount: Decimal = Field(description="Amount paid with points")
    currency: str
    points: int = Field(description="NQ points spent")
    balances: Balances


class PaymentReversalResult(DeferredModel):
    reversal_id: str
    payment_id: str
    amount: Decimal = Field(description="Amount refunded by this reversal")
    payment_reversed_amount: Decimal = Field(description="Amount of the payment refunded so far")
    points: int = Field(description="NQ points given back by this reversal")
    points_expired: int = Field(description="Points due back whose lot had expired meanwhile: not credited")
    balances: Balances


class PaymentRecord(DeferredModel):
    """What a payment spent, kept for its reversals."""

    model_config = ConfigDict(extra="forbid")

    payment_id: str
    program_id: str
    merchant_id: str
    amount: Decimal
    currency: str
    points: int
    acceptor_merchant_group: str
    # (points, expiry) of each lot the points came from, soonest-expiring first
    taken: list[tuple[int, datetime | None]]
    reversed_amount: Decimal = Decimal(0)
    reversed_points: int = 0
    answer: StoredAnswer


def refused(code: str, message: str, **detail: object) -> DomainError:
    """A payment's refusal: its HTTP status follows its `code`."""
    details = [{"reason": code, **{k: str(v) for k, v in detail.items()}}]
    if code in ("merchant_required", "unknown_merchant", "wrong_merchant_group"):
        return Forbidden(message, code=code, details=details)
    if code == "payment_not_found":
        return NotFound(message, code=code, details=details)
    if code in ("reversal_exceeds_payment",):
        return Conflict(message, code=code, details=details)
    return InvalidRequest(message, code=code, details=details)


def payment_settings(program: Program, request: PaymentRequest) -> PaymentSettings:
    """The program's payment settings, once the request fits them."""
    if request.program_id != program.program_id:
        raise refused(
            "program_mismatch",
            f"the card belongs to program {program.program_id!r}",
            field="program_id",
        )
    settings = program.payment
    if settings is None:
        raise refused(
            "payment_not_configured", f"program {program.program_id!r} does not accept points as payment"
        )
    if request.currency != settings.currency:
        raise refused(
            "currency_mismatch",
            f"points pay in {settings.currency}",
            field="currency",
            currency=settings.currency,
        )
    return settings


def require_acceptor(merchant_id: str, merchant_groups: frozenset[str] | None, acceptor: str) -> None:
    if merchant_groups is None:
        raise refused(
            "unknown_merchant", "the key's merchant does not exist (any more)", merchant_id=merchant_id
        )
    if acceptor not in merchant_groups:
        raise refused(
            "wrong_merchant_group",
            f"merchant {merchant_id!r} is not in the program's acceptor group {acceptor!r}",
            merchant_id=merchant_id,
            required_group=acceptor,
        )


def points_for_payment(amount: Decimal, settings: PaymentSettings) -> int:
    """`amount x rate`, rounded down; 0 is refused (`payment_too_small`)."""
    points = int((amount * settings.rate).to_integral_value(ROUND_FLOOR))
    if points <= 0:
        raise refused(
            "payment_too_small",
            f"{amount} {settings.currency} is worth less than one point at {settings.rate} points per unit",
            field="amount",
            rate=settings.rate,
        )
    return points


def taken_from(entry: LedgerEntry, lots_before: list[Lot]) -> list[tuple[int, datetime | None]]:
    """(points, expiry) of each lot a payment's entry took from, soonest-expiring first."""
    expiry = {lot.lot_id: lot.expires_at for lot in lots_before if lot.kind == "nq"}
    parts = [(-m.points, expiry.get(m.lot_id)) for m in entry.movements if m.kind == "nq" and m.points < 0]
    return sorted(parts, key=lambda part: (part[1] is None, part[1] or datetime.min))


def reversal_amount(record: PaymentRecord, request: PaymentReversalRequest) -> Decimal:
    rest = record.amount - record.reversed_amount
    amount = request.amount if request.amount is not None else rest
    if amount <= 0 or amount > rest:
        raise refused(
            "reversal_exceeds_payment",
            f"refund {amount} exceeds what is left of the payment ({rest})",
            field="amount",
            reversible=money(rest),
        )
    return money(amount)


def reversal_points(record: PaymentRecord, reversed_after: Decimal) -> int:
    """Points to give back now so that, cumulatively, floor(points x refunded / amount) are back
    (all of them once the whole amount is refunded)."""
    target = int((record.points * reversed_after / record.amount).to_integral_value(ROUND_FLOOR))
    return max(0, min(record.points, target) - record.reversed_points)


def parts_back(record: PaymentRecord, points: int) -> list[tuple[int, datetime | None]]:
    """The (points, expiry) parts of `points` given back after those already given back: the
    latest-expiring parts first (the reverse of the order they were spent in)."""
    skip, wanted = record.reversed_points, points
    parts: list[tuple[int, datetime | None]] = []
    for held, expires_at in reversed(record.taken):
        used = min(held, skip)
        skip -= used
        give = min(held - used, wanted)
        if give > 0:
            parts.append((give, expires_at))
            wanted -= give
        if wanted == 0:
            break
    return parts
