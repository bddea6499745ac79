"""Instrument series: kind, number layout (prefix, length, check digit), who issues and who accepts,
and the kind's properties (value and currency, validity, a coupon's discount).

Money is a Decimal with at most two decimal places (cents), never a float.
"""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from loyalty_engine.kernel.errors import Conflict, InvalidRequest
from loyalty_engine.kernel.timeutil import DEFAULT_TIME_ZONE, UtcDatetime
from loyalty_engine.kernel.types import Duration, Model, Name, Slug, TimeZoneName, plain_decimal

SeriesKind = Literal["gift_card", "store_credit", "coupon", "loyalty_card"]
STORED_VALUE_KINDS = frozenset({"gift_card", "store_credit"})
PREFIX_PATTERN = r"^[0-9]{1,12}$"
MAX_PREFIX_LENGTH = 12
MIN_FREE_DIGITS = 4  # digits between the prefix and the check digit: at least 10,000 numbers
CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    """Money always shows two decimals ("50.00"), however it was stored or sent ("50", "50.0")."""
    return value.quantize(CENT)


Money = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2),
    BeforeValidator(plain_decimal),
    AfterValidator(to_cents),
]
Amount = Annotated[Decimal, AfterValidator(to_cents)]  # a stored balance or movement (may be 0 or signed)


class Discount(Model):
    """A coupon's discount at the POS: a percentage of the basket or an amount off."""

    percent: (
        Annotated[
            Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2), BeforeValidator(plain_decimal)
        ]
        | None
    ) = None
    amount: Money | None = None

    @model_validator(mode="after")
    def _one(self) -> "Discount":
        if (self.percent is None) == (self.amount is None):
            raise ValueError("a discount is either a percent or an amount")
        return self


class SeriesSpec(Model):
    """What a client sends to create or update a series. Kind, prefix, length and check digit
    are fixed once the series exists (the numbers already issued depend on them)."""

    name: Name = Field(min_length=1, max_length=128)
    kind: SeriesKind
    prefix: str = Field(pattern=PREFIX_PATTERN, description="Leading digits of every number of the series")
    length: int = Field(
        ge=8, le=32, strict=True, description="Total digits of a number, prefix and check digit included"
    )
    check_digit: bool = Field(default=True, description="The last digit is a Luhn check digit")
    issuer_group: Slug = Field(description="Merchant group whose merchants sell, activate or issue")
    acceptor_group: Slug = Field(description="Merchant group whose merchants redeem")
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="Stored-value kinds, and a coupon's amount off"
    )
    value: Money | None = Field(default=None, description="A gift card's fixed value; absent = open value")
    min_value: Money | None = Field(default=None, description="Open value (or store credit): the least")
    max_value: Money | None = Field(default=None, description="Open value (or store credit): the most")
    validity: Duration | None = Field(
        default=None, description="How long an instrument is valid from its activation or issue"
    )
    valid_until: UtcDatetime | None = Field(default=None, description="A fixed end for every instrument")
    time_zone: TimeZoneName = Field(
        default=DEFAULT_TIME_ZONE,
        description="IANA time zone whose wall time `validity` counts in, as a program's points do: a "
        "month from 1 March 00:30 there ends on 1 April 00:30 there",
    )
    discount: Discount | None = Field(default=None, description="A coupon's discount")

    # A request is held to every rule; a stored series is read as it was saved, before an amount
    # off needed its currency (`Series` and `SeriesView` turn this off).
    requires_amount_off_currency: ClassVar[bool] = True

    @property
    def amount_off(self) -> bool:
        """A coupon worth an amount off (money: in the series' currency), not a percent."""
        return self.discount is not None and self.discount.amount is not None

    @model_validator(mode="after")
    def _consistent(self) -> "SeriesSpec":
        free = self.length - len(self.prefix) - (1 if self.check_digit else 0)
        if free < MIN_FREE_DIGITS:
            raise ValueError(
                f"the length leaves {free} free digits after the prefix; at least {MIN_FREE_DIGITS}"
            )
        stored_value = self.kind in STORED_VALUE_KINDS
        if stored_value and self.currency is None:
            raise ValueError(f"a {self.kind} series needs a currency")
        amount_off = self.kind == "coupon" and self.amount_off
        if amount_off and self.currency is None and self.requires_amount_off_currency:
            raise ValueError("a coupon series with an amount off needs a currency (the amount's)")
        if not stored_value and (
            (self.currency and not amount_off) or self.value or self.min_value or self.max_value
        ):
            raise ValueError(
                f"a {self.kind} series has no currency or value"
                + (" (only a coupon's amount off has a currency)" if self.kind == "coupon" else "")
            )
        if self.kind != "gift_card" and self.value is not None:
            raise ValueError("only gift cards have a fixed value")
        if self.value is not None and (self.min_value is not None or self.max_value is not None):
            raise ValueError("a fixed-value series has no min_value or max_value")
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValueError("min_value must not exceed max_value")
        if (self.kind == "coupon") != (self.discount is not None):
            raise ValueError("a coupon series needs a discount, and only a coupon series has one")
        return self


class Series(SeriesSpec):
    requires_amount_off_currency: ClassVar[bool] = False
    series_id: Slug
    secret: str = Field(exclude=True, description="Keys the permutation of generated numbers")
    next_index: int = Field(default=0, ge=0, exclude=True)
    version: int = Field(default=1, ge=1)
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @property
    def stored_value(self) -> bool:
        return self.kind in STORED_VALUE_KINDS

    def layout(self) -> tuple[str, int, bool]:
        return self.prefix, self.length, self.check_digit

    def valid_until_from(self, start: datetime) -> datetime | None:
        """The end of validity of an instrument activated or issued at `start`."""
        ends = [
            end
            for end in (
                self.validity.after(start, self.time_zone) if self.validity else None,
                self.valid_until,
            )
            if end
        ]
        return min(ends) if ends else None

    def check_value(self, amount: Decimal | None, field: str) -> Decimal:
        """The value of a sale or an issue: the fixed value, or an amount within the bounds."""
        if self.value is not None:
            if amount is not None and amount != self.value:
                raise value_refused(field, f"this series has a fixed value of {self.value}")
            return self.value
        if amount is None:
            raise value_refused(field, "this series has an open value: send the amount")
        if self.min_value is not None and amount < self.min_value:
            raise value_refused(field, f"the least is {self.min_value}")
        if self.max_value is not None and amount > self.max_value:
            raise value_refused(field, f"the most is {self.max_value}")
        return amount


class SeriesView(SeriesSpec):
    requires_amount_off_currency: ClassVar[bool] = False
    series_id: Slug
    version: int
    issued: int = Field(description="Numbers drawn so far (gaps from crashed reservations included)")
    created_at: UtcDatetime
    updated_at: UtcDatetime

    @classmethod
    def of(cls, series: Series) -> "SeriesView":
        return cls(**series.model_dump(), issued=series.next_index)


def value_refused(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(
        message, code="invalid_value", details=[{"field": field, "reason": "invalid_value"}]
    )


IMMUTABLE = ("kind", "prefix", "length", "check_digit")


def check_update(current: Series, spec: SeriesSpec) -> None:
    changed = [name for name in IMMUTABLE if getattr(current, name) != getattr(spec, name)]
    if changed:
        raise Conflict(
            f"{', '.join(changed)} of an existing series cannot change",
            code="series_layout_immutable",
            details=[{"field": name, "reason": "immutable"} for name in changed],
        )


def prefix_overlap(prefix: str, other: str, other_series: str, reason: str) -> Conflict:
    return Conflict(
        f"prefix {prefix!r} overlaps series {other_series!r} (prefix {other!r}): {reason}",
        code="prefix_overlap",
        details=[{"field": "prefix", "reason": "prefix_overlap", "series_id": other_series, "prefix": other}],
    )
