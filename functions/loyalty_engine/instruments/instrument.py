"""Instruments (a gift card, a store credit, a coupon) and the rules of their movements.

Every change of an instrument is one entry of its own append-only ledger, numbered by the
instrument version it creates; the balance is the sum of the entries' amounts and never
goes below zero. The functions here decide; the use cases store.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field

from loyalty_engine.instruments.merchants import Merchant
from loyalty_engine.instruments.series import Amount, Discount, Money, Series, SeriesKind
from loyalty_engine.kernel.errors import Conflict, DomainError, Forbidden, InvalidRequest, NotFound
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import Slug, not_blank, single_line

Status = Literal["issued", "active", "redeemed", "expired", "cancelled"]
Movement = Literal["activation", "issue", "redemption", "reversal", "cancellation"]
EntryKind = Literal[Movement, "customer_link", "customer_unlink"]  # a link moves no value
NUMBER_PATTERN = r"^[0-9]{8,32}$"
NaturalKey = Annotated[str, Field(pattern=NATURAL_KEY_PATTERN)]


class Instrument(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    number: str
    series_id: str
    kind: SeriesKind
    status: Status
    currency: str | None = None
    balance: Amount | None = Field(default=None, description="Stored value left (gift cards, store credit)")
    initial_value: Amount | None = None
    valid_until: UtcDatetime | None = None
    customer_id: str | None = None
    batch_id: str | None = None
    issued_at: UtcDatetime
    issued_by: str | None = Field(default=None, description="The merchant that issued it (store credit)")
    activated_at: UtcDatetime | None = None
    activated_by: str | None = None
    return_reference: str | None = Field(default=None, description="The return a store credit was issued on")
    version: int = Field(default=1, ge=1)

    def status_at(self, now: datetime) -> Status:
        """The status as of `now`: an instrument past its validity is expired (nothing is written)."""
        if self.status in ("issued", "active") and self.valid_until is not None and now >= self.valid_until:
            return "expired"
        return self.status


class InstrumentEntry(DeferredModel):
    """One movement of an instrument (append-only)."""

    model_config = ConfigDict(extra="forbid")

    entry_no: int = Field(description="The instrument version the movement created")
    kind: EntryKind
    amount: Amount = Field(description="Signed change of the balance (0 for coupons)")
    balance_after: Amount | None = None
    status_after: Status
    merchant_id: str | None = None
    store_id: str | None = None
    reference: str = Field(description="activation, redemption, reversal, return, cancellation, customer id")
    reverses: str | None = Field(default=None, description="The redemption a reversal refunds")
    reason: str | None = Field(default=None, description="Why the instrument was cancelled")
    at: UtcDatetime


class InstrumentView(DeferredModel):
    """What a POS sees when it looks a number up."""

    number: str
    series_id: str
    series_name: str
    kind: SeriesKind
    status: Status
    currency: str | None
    balance: Amount | None
    valid_until: datetime | None
    discount: Discount | None
    customer_id: str | None
    activated_at: datetime | None

    @classmethod
    def of(cls, instrument: Instrument, series: Series, now: datetime) -> "InstrumentView":
        return cls(
            number=instrument.number,
            series_id=series.series_id,
            series_name=series.name,
            kind=instrument.kind,
            status=instrument.status_at(now),
            currency=instrument.currency,
            balance=instrument.balance,
            valid_until=instrument.valid_until,
            discount=series.discount,
            customer_id=instrument.customer_id,
            activated_at=instrument.activated_at,
        )


# Requests (point-of-sale calls; the merchant comes from the key, never from the body).
class ActivationRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    activation_id: NaturalKey = Field(description="The sale's id at the POS: the idempotency key")
    value: Money | None = Field(default=None, description="Required for open-value cards")
    customer_id: Slug | None = None


class StoreCreditRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    return_id: NaturalKey = Field(description="The return the credit is issued on: the idempotency key")
    amount: Money
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    customer_id: Slug | None = None


class RedemptionRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    redemption_id: NaturalKey = Field(description="The payment's id at the POS: the idempotency key")
    amount: Money | None = Field(default=None, description="Amount to pay (stored value); absent for coupons")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class ReversalRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    reversal_id: NaturalKey = Field(description="The refund's id at the POS: the idempotency key")
    amount: Money | None = Field(default=None, description="Amount to refund; absent = all not yet refunded")


class CancellationRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    cancellation_id: NaturalKey = Field(
        description="The operator's id of the cancellation: the idempotency key"
    )
    reason: Annotated[str, AfterValidator(not_blank), AfterValidator(single_line)] = Field(
        min_length=1, max_length=500, description="Why, e.g. reported lost or stolen; not spaces only"
    )


class MovementResult(DeferredModel):
    """The answer of a sale, an issue, a redemption or a reversal."""

    instrument: InstrumentView
    entry: InstrumentEntry


class RedemptionRecord(DeferredModel):
    """A redemption as kept for replays and reversals (in the instrument's partition)."""

    model_config = ConfigDict(extra="forbid")

    redemption_id: str
    amount: Amount
    reversed: Amount = Decimal(0)
    undone: bool = Field(default=False, description="A coupon's use was reversed")
    entry_no: int
    merchant_id: str


# Refusals: each names its reason in `code`.
def refused(code: str, message: str, **detail: Any) -> DomainError:
    zulu = {k: v.isoformat().replace("+00:00", "Z") for k, v in detail.items() if isinstance(v, datetime)}
    details = [{"reason": code, **{k: str(v) for k, v in detail.items()}, **zulu}]  # times as UTC `…Z`
    if code == "wrong_merchant_group":
        return Forbidden(message, code=code, details=details)
    if code in ("unknown_series", "instrument_not_found"):
        return NotFound(message, code=code, details=details)
    if code in ("invalid_number", "currency_mismatch", "invalid_amount", "unsupported_operation"):
        return InvalidRequest(message, code=code, details=details)
    return Conflict(message, code=code, details=details)


def require_group(merchant: Merchant, merchant_group: str, role: str) -> None:
    if not merchant.belongs_to(merchant_group):
        raise refused(
            "wrong_merchant_group",
            f"merchant {merchant.merchant_id!r} is not in the series' {role} group {merchant_group!r}",
            merchant_id=merchant.merchant_id,
            required_group=merchant_group,
        )


def _usable(instrument: Instrument, now: datetime) -> None:
    status = instrument.status_at(now)
    if status == "expired":
        raise refused(
            "expired", f"instrument expired at {instrument.valid_until}", valid_until=instrument.valid_until
        )
    if status == "cancelled":
        raise refused("cancelled", "the instrument is cancelled")
    if status == "issued":
        raise refused("not_active", "the gift card has not been sold (activated) yet")
    if status == "redeemed":
        if instrument.kind == "coupon":
            raise refused("already_used", "the coupon was already used")
        raise refused("insufficient_balance", "nothing is left on the instrument", balance=instrument.balance)


def _entry(
    instrument: Instrument,
    kind: EntryKind,
    amount: Decimal,
    merchant: Merchant,
    reference: str,
    now: datetime,
    reverses: str | None = None,
) -> InstrumentEntry:
    return InstrumentEntry(
        entry_no=instrument.version,
        kind=kind,
        amount=amount,
        balance_after=instrument.balance,
        status_after=instrument.status,
        merchant_id=merchant.merchant_id,
        store_id=merchant.store_id,
        reference=reference,
        reverses=reverses,
        at=now,
    )


def activate(
    instrument: Instrument, series: Series, merchant: Merchant, request: ActivationRequest, now: datetime
) -> tuple[Instrument, InstrumentEntry]:
    """Sell a pre-issued gift card: only a merchant of the issuer group, with its value."""
    if series.kind != "gift_card":
        raise refused("unsupported_operation", f"a {series.kind} is not activated; only gift cards are")
    require_group(merchant, series.issuer_group, "issuer")
    if instrument.status_at(now) == "expired":
        raise refused("expired", "the card's validity ended before it was sold")
    if instrument.status == "cancelled":
        raise refused("cancelled", "the instrument is cancelled")
    if instrument.status != "issued":
        raise refused("already_active", "the gift card was already sold")
    value = series.check_value(request.value, "value")
    new = instrument.model_copy(
        update={
            "status": "active",
            "balance": value,
            "initial_value": value,
            "activated_at": now,
            "activated_by": merchant.merchant_id,
            "valid_until": series.valid_until_from(now),
            "customer_id": request.customer_id or instrument.customer_id,
            "version": instrument.version + 1,
        }
    )
    return new, _entry(new, "activation", value, merchant, request.activation_id, now)


def new_store_credit(
    number: str, series: Series, merchant: Merchant, request: StoreCreditRequest, now: datetime
) -> tuple[Instrument, InstrumentEntry]:
    """Issue store credit on a return: only a merchant of the issuer group, never already expired."""
    if series.kind != "store_credit":
        raise refused("unsupported_operation", f"series {series.series_id!r} is not a store credit series")
    require_group(merchant, series.issuer_group, "issuer")
    if request.currency != series.currency:
        raise refused(
            "currency_mismatch", f"the series' currency is {series.currency}", currency=series.currency
        )
    amount = series.check_value(request.amount, "amount")
    valid_until = series.valid_until_from(now)
    if valid_until is not None and now >= valid_until:
        raise refused("expired", "the series' validity has ended", valid_until=valid_until)
    instrument = Instrument(
        number=number,
        series_id=series.series_id,
        kind="store_credit",
        status="active",
        currency=series.currency,
        balance=amount,
        initial_value=amount,
        valid_until=valid_until,
        customer_id=request.customer_id,
        issued_at=now,
        issued_by=merchant.merchant_id,
        activated_at=now,
        activated_by=merchant.merchant_id,
        return_reference=request.return_id,
    )
    return instrument, _entry(instrument, "issue", amount, merchant, request.return_id, now)


def redeem(
    instrument: Instrument, series: Series, merchant: Merchant, request: RedemptionRequest, now: datetime
) -> tuple[Instrument, InstrumentEntry, RedemptionRecord]:
    """Pay with stored value (partially; never below zero) or use a coupon (once)."""
    if series.kind == "loyalty_card":
        raise refused(
            "unsupported_operation", "a loyalty card is not redeemed here; burn its member's points"
        )
    require_group(merchant, series.acceptor_group, "acceptor")
    _usable(instrument, now)
    held_in = instrument.currency or series.currency  # its balance's, or a coupon's amount off's
    if request.currency is not None and held_in is not None and request.currency != held_in:
        raise refused("currency_mismatch", f"the instrument holds {held_in}", currency=held_in)
    if series.kind == "coupon":
        if request.amount is not None:
            raise refused("invalid_amount", "a coupon is used whole: send no amount")
        amount = Decimal(0)
        update: dict[str, Any] = {"status": "redeemed"}
    else:
        if request.amount is None:
            raise refused("invalid_amount", "send the amount to pay")
        balance = instrument.balance or Decimal(0)
        if request.amount > balance:
            raise refused(
                "insufficient_balance",
                f"the balance is {balance}, less than {request.amount}",
                balance=balance,
            )
        amount = request.amount
        left = balance - amount
        update = {"balance": left, "status": "redeemed" if left == 0 else "active"}
    new = instrument.model_copy(update={**update, "version": instrument.version + 1})
    entry = _entry(new, "redemption", -amount, merchant, request.redemption_id, now)
    record = RedemptionRecord(
        redemption_id=request.redemption_id,
        amount=amount,
        entry_no=entry.entry_no,
        merchant_id=merchant.merchant_id,
    )
    return new, entry, record


def reverse(
    instrument: Instrument,
    series: Series,
    merchant: Merchant,
    redemption: RedemptionRecord,
    request: ReversalRequest,
    now: datetime,
) -> tuple[Instrument, InstrumentEntry, RedemptionRecord]:
    """Refund (part of) a redemption, linked to it (a coupon is usable again); never once expired."""
    require_group(merchant, series.acceptor_group, "acceptor")
    if instrument.status == "cancelled":
        raise refused("cancelled", "the instrument is cancelled")
    if instrument.valid_until is not None and now >= instrument.valid_until:
        raise refused("expired", "the instrument has expired", valid_until=instrument.valid_until)
    left = redemption.amount - redemption.reversed
    if series.kind == "coupon":
        if request.amount is not None:
            raise refused("invalid_amount", "a coupon's use is reversed whole: send no amount")
        if redemption.undone:
            raise refused("already_reversed", "this coupon use was already reversed")
        amount = Decimal(0)
        update: dict[str, Any] = {"status": "active"}
        after = redemption.model_copy(update={"undone": True})
    else:
        amount = request.amount if request.amount is not None else left
        if amount <= 0 or amount > left:
            raise refused(
                "reversal_exceeds_redemption", f"{left} of the redemption is left to refund", refundable=left
            )
        balance = (instrument.balance or Decimal(0)) + amount
        update = {
            "balance": balance,
            "status": "active" if instrument.status == "redeemed" else instrument.status,
        }
        after = redemption.model_copy(update={"reversed": redemption.reversed + amount})
    new = instrument.model_copy(update={**update, "version": instrument.version + 1})
    entry = _entry(
        new, "reversal", amount, merchant, request.reversal_id, now, reverses=redemption.redemption_id
    )
    return new, entry, after


def cancel(
    instrument: Instrument, request: CancellationRequest, now: datetime
) -> tuple[Instrument, InstrumentEntry]:
    """Block an instrument for good (lost, stolen...) unless cancelled; its value stays, frozen."""
    if instrument.status == "cancelled":
        raise refused("cancelled", "the instrument is already cancelled")
    new = instrument.model_copy(update={"status": "cancelled", "version": instrument.version + 1})
    entry = InstrumentEntry(
        entry_no=new.version,
        kind="cancellation",
        amount=Decimal(0),
        balance_after=new.balance,
        status_after=new.status,
        reference=request.cancellation_id,
        reason=request.reason,
        at=now,
    )
    return new, entry
