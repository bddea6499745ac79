"""Loyalty programs: point settings, earning rules, card codes, tiers (stored here; computed by tier runs)."""

from collections import Counter
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from loyalty_engine.kernel.timeutil import DEFAULT_TIME_ZONE, DurationUnit, UtcDatetime, time_zone
from loyalty_engine.kernel.types import Duration, Model, Name, OneLine, Slug, TimeZoneName, plain_decimal

Rounding = Literal["nearest", "up", "down"]
_ROUNDING = {"nearest": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}
# A program's point figures (maximum balance, tier thresholds): a thousand trillion points is
# past any program, and exact as a JavaScript number (a console, a web shop) up to 2**53.
MAX_PROGRAM_POINTS = 10**15
Multiplier = Annotated[
    Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=3), BeforeValidator(plain_decimal)
]
GroupMultiplier = Annotated[
    Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3), BeforeValidator(plain_decimal)
]
# Enough digits for the largest product of an amount, a rate and two multipliers (about 32
# significant digits), which the default context (28) would round before the points are rounded.
_EXACT = Context(prec=64)
EXACT = _EXACT


class QPointSettings(Model):
    """Qualifying points: they only place members in tiers and are never spent."""

    conversion_rate: Annotated[
        Decimal, Field(ge=0, le=10_000, max_digits=12, decimal_places=4), BeforeValidator(plain_decimal)
    ] = Decimal(1)
    rounding: Rounding = "down"
    holding_period: Duration | None = None
    validity: Duration | None = None

    def points_for(self, amount: Decimal, multiplier: Decimal = Decimal(1)) -> int:
        """`amount x conversion rate x multiplier`, rounded once with the settings' rounding."""
        return self.rounded(_EXACT.multiply(_EXACT.multiply(amount, self.conversion_rate), multiplier))

    def rounded(self, points: Decimal) -> int:
        return int(points.quantize(Decimal(1), _ROUNDING[self.rounding], _EXACT))


class NQPointSettings(QPointSettings):
    """Non-qualifying points: the program's currency."""

    max_balance: int = Field(
        default=0, ge=0, le=MAX_PROGRAM_POINTS, strict=True, description="0 means unlimited"
    )


class EarningRule(Model):
    """How the order lines of one SKU or one product group earn, instead of by their amount alone,
    and how the members of one customer group earn.

    A product rule has exactly one selector (`sku` or `product_group`, matched exactly) and
    exactly one effect: `points_per_unit` (fixed points per unit bought, whatever the amount; 0
    excludes the product) or `multiplier` (of the line's amount-based points). It may also name a
    `customer_group`: it then applies only to members whose linked customer is in that group, and
    wins over the same selector's rule without a group. A rule with a `customer_group` and no
    selector is a customer-group rule: its `multiplier` (0 = earns nothing) multiplies all the
    points the member's orders earn. A rule applies to NQ and Q points alike, each with its own
    settings and the member's tier multiplier for that kind.
    """

    sku: OneLine | None = Field(default=None, min_length=1, max_length=64)
    product_group: OneLine | None = Field(default=None, min_length=1, max_length=64)
    customer_group: Slug | None = Field(
        default=None, description="Only for members whose customer is in this customer group"
    )
    points_per_unit: int | None = Field(
        default=None, ge=0, le=1_000_000, strict=True, description="Instead of the amount"
    )
    multiplier: GroupMultiplier | None = Field(
        default=None,
        description="Of the line's amount-based points (over 0); of all the order's points in a "
        "customer-group rule (0 = earns nothing)",
    )

    @model_validator(mode="after")
    def _one_selector_one_effect(self) -> "EarningRule":
        if self.sku is not None and self.product_group is not None:
            raise ValueError("an earning rule has at most one of sku or product_group")
        if self.is_customer_group_rule:
            if self.multiplier is None or self.points_per_unit is not None:
                raise ValueError("a customer-group rule (no sku, no product_group) needs a multiplier only")
            return self
        if self.sku is None and self.product_group is None:
            raise ValueError("an earning rule needs sku, product_group or customer_group")
        if (self.points_per_unit is None) == (self.multiplier is None):
            raise ValueError("an earning rule needs exactly one of points_per_unit or multiplier")
        if self.multiplier is not None and self.multiplier == 0:
            raise ValueError("a product rule's multiplier is over 0 (points_per_unit 0 excludes a product)")
        return self

    @property
    def is_customer_group_rule(self) -> bool:
        return self.sku is None and self.product_group is None and self.customer_group is not None

    def points_for(
        self, settings: QPointSettings, amount: Decimal, quantity: int, multiplier: Decimal
    ) -> int:
        """The points of one order line (`amount` is the line total) with the member's tier `multiplier`."""
        if self.points_per_unit is not None:
            return settings.rounded(_EXACT.multiply(Decimal(self.points_per_unit * quantity), multiplier))
        assert self.multiplier is not None
        return settings.points_for(amount, _EXACT.multiply(multiplier, self.multiplier))


_SELECTORS = ("sku", "product_group", "customer_group")


class PaymentSettings(Model):
    """Paying with points at a point of sale: `rate` points per unit of `currency`, accepted only
    by the merchants of `acceptor_merchant_group` (a merchant group of the instrument side)."""

    rate: Annotated[Decimal, BeforeValidator(plain_decimal)] = Field(
        gt=0, le=1_000_000, max_digits=12, decimal_places=4, description="Points per currency unit"
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the amounts paid")
    acceptor_merchant_group: Slug = Field(description="The merchant group whose merchants accept points")


class CardCodeSettings(Model):
    """Card codes are generated (prefix + random digits + Luhn check digit) or imported ("manual")."""

    generation: Literal["auto", "manual"] = "auto"
    prefix: str = Field(default="", pattern=r"^[0-9]{0,10}$")
    length: int = Field(default=13, ge=8, le=24, strict=True)

    @model_validator(mode="after")
    def _room_for_random_digits(self) -> "CardCodeSettings":
        if self.length - len(self.prefix) - 1 < 6:
            raise ValueError(
                "length must leave at least 6 random digits after the prefix and before the check digit"
            )
        return self


class Tier(Model):
    rank: int = Field(ge=1, le=50, strict=True)
    name: Name = Field(min_length=1, max_length=64)
    q_multiplier: Multiplier | None = Field(default=None, description="Defaults to the rank")
    nq_multiplier: Multiplier | None = Field(default=None, description="Defaults to the rank")
    entry_threshold: int = Field(
        ge=0, le=MAX_PROGRAM_POINTS, strict=True, description="Q points needed to enter the tier"
    )
    downgrade_threshold: int = Field(
        ge=0, le=MAX_PROGRAM_POINTS, strict=True, description="Q points needed to stay in the tier"
    )

    @property
    def effective_nq_multiplier(self) -> Decimal:
        return self.nq_multiplier if self.nq_multiplier is not None else Decimal(self.rank)

    @property
    def effective_q_multiplier(self) -> Decimal:
        return self.q_multiplier if self.q_multiplier is not None else Decimal(self.rank)


class VipTier(Model):
    name: Slug
    q_multiplier: Multiplier = Decimal(1)
    nq_multiplier: Multiplier = Decimal(1)


def _whole_minute(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.second:
        raise ValueError("runs are scheduled to the minute: first_run_at must have 0 seconds")
    return moment


class Schedule(Model):
    first_run_at: UtcDatetime | None = Field(
        default=None, description="The first computation; left out: the program's creation (to the minute)"
    )
    periodicity: Literal["daily", "weekly", "monthly", "yearly"] = "daily"

    _minutes = field_validator("first_run_at")(_whole_minute)


class RelativePeriod(Duration):
    """A relative downgrade's period: a number of days, weeks, months or years (the default unit,
    seed 003), counted from each member's subscription."""

    unit: DurationUnit = "year"


class DowngradeSchedule(Model):
    mode: Literal["calendar", "relative"] = "calendar"
    first_run_at: UtcDatetime | None = Field(
        default=None, description="calendar mode; left out: the program's creation (to the minute)"
    )
    periodicity: Literal["daily", "weekly", "monthly", "yearly"] = "yearly"
    every: RelativePeriod | None = Field(
        default=None, description="relative mode: from each member's subscription (unit: years by default)"
    )

    _minutes = field_validator("first_run_at")(_whole_minute)

    @model_validator(mode="after")
    def _mode_fields(self) -> "DowngradeSchedule":
        if self.mode == "relative" and self.every is None:
            raise ValueError("relative downgrades need `every` (e.g. 1 year)")
        return self


class TierSettings(Model):
    tiers: list[Tier] = Field(min_length=1, max_length=50)
    max_tier_downgrade: int = Field(default=1, ge=1, le=50, strict=True)
    upgrade: Schedule = Field(
        default_factory=Schedule, description="Left out: daily from the program's creation (seed 003)"
    )
    downgrade: DowngradeSchedule = Field(
        default_factory=DowngradeSchedule,
        description="Left out: calendar-based, yearly from the program's creation (seed 003)",
    )

    @model_validator(mode="after")
    def _ordered_tiers(self) -> "TierSettings":
        ranks = [tier.rank for tier in self.tiers]
        if ranks != list(range(1, len(ranks) + 1)):
            raise ValueError("tiers must be listed by rank, 1..n without gaps")
        for lower, upper in zip(self.tiers, self.tiers[1:], strict=False):
            if upper.entry_threshold <= lower.entry_threshold:
                raise ValueError(f"tier {upper.rank} entry_threshold must be above tier {lower.rank}'s")
        for tier in self.tiers:
            if tier.downgrade_threshold > tier.entry_threshold:
                raise ValueError(f"tier {tier.rank} downgrade_threshold must not exceed its entry_threshold")
        if len({tier.name for tier in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must be unique")
        return self

    def tier(self, rank: int | None) -> Tier | None:
        if rank is None or not 1 <= rank <= len(self.tiers):
            return None
        return self.tiers[rank - 1]


class ProgramSpec(Model):
    """What a client sends to create or replace a program."""

    name: Name = Field(
        min_length=1,
        max_length=128,
        description="Unique in the group, whatever its case and spacing",
    )
    kind: Literal["simple", "tiered"] = "simple"
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of order amounts")
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    time_zone: TimeZoneName = Field(
        default=DEFAULT_TIME_ZONE,
        description="IANA time zone whose wall time the program's calendars count in (runs, periods, "
        "anniversaries, the daily points jobs), daylight saving included; Etc/GMT-1 is the fixed GMT+1 "
        "of the partner files (which keep speaking it whatever this says)",
    )
    card_codes: CardCodeSettings = CardCodeSettings()
    nq_points: NQPointSettings = NQPointSettings()
    q_points: QPointSettings = QPointSettings()
    tier_settings: TierSettings | None = None
    vip_tiers: list[VipTier] = Field(default_factory=list, max_length=20)
    earning_rules: list[EarningRule] = Field(
        default_factory=list,
        max_length=500,
        description="Per SKU or product group, applied to orders with lines; a SKU rule wins over a group rule",
    )
    products_without_rule: Literal["earn_by_amount", "earn_nothing"] = Field(
        default="earn_by_amount",
        description="How an order line that no earning rule matches earns: by its amount, or nothing "
        "(then every order must carry its lines)",
    )
    payment: PaymentSettings | None = Field(
        default=None, description="Paying with points at a point of sale; absent: points do not pay"
    )
    expiry_notice_days: int = Field(
        default=30,
        ge=0,
        le=365,
        strict=True,
        description="The daily expiry job notices each lot expiring within this many days, once "
        "(the `points.expiring_soon` event); 0: no notices",
    )

    @field_validator("earning_rules")
    @classmethod
    def _one_rule_per_selector(cls, rules: list[EarningRule]) -> list[EarningRule]:
        counts = Counter((rule.sku, rule.product_group, rule.customer_group) for rule in rules)
        duplicates = sorted(
            ", ".join(f"{name} {value!r}" for name, value in zip(_SELECTORS, key, strict=True) if value)
            for key, count in counts.items()
            if count > 1
        )
        if duplicates:
            raise ValueError(f"more than one earning rule for {'; '.join(duplicates)}")
        return rules

    @model_validator(mode="after")
    def _consistent(self) -> "ProgramSpec":
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind == "tiered" and self.tier_settings is None:
            raise ValueError("a tiered program needs tier_settings")
        if self.kind == "simple" and self.tier_settings is not None:
            raise ValueError("a simple program has no tier_settings")
        if len({vip.name for vip in self.vip_tiers}) != len(self.vip_tiers):
            raise ValueError("VIP tier names must be unique")
        return self

    def with_first_runs(self, created_at: datetime) -> "ProgramSpec":
        """The spec with the tier schedules' first runs it leaves out at the program's creation
        (seed 003: "the program creation date is the default"), to the minute."""
        settings = self.tier_settings
        if settings is None:
            return self
        default = created_at.replace(second=0, microsecond=0)
        upgrade, downgrade = settings.upgrade, settings.downgrade
        if upgrade.first_run_at is None:
            upgrade = upgrade.model_copy(update={"first_run_at": default})
        if downgrade.mode == "calendar" and downgrade.first_run_at is None:
            downgrade = downgrade.model_copy(update={"first_run_at": default})
        if upgrade is settings.upgrade and downgrade is settings.downgrade:
            return self
        filled = settings.model_copy(update={"upgrade": upgrade, "downgrade": downgrade})
        return self.model_copy(update={"tier_settings": filled})

    def first_runs_at_a_repeated_time(self) -> list[str]:
        """The tier schedules' first runs given at the second pass of a wall time that the program's
        zone shows twice (clocks set back): EventBridge Scheduler fires such a wall time once, at its
        first pass, so that run would never be fired. Checked when a program is saved."""
        settings = self.tier_settings
        if settings is None:
            return []
        zone = time_zone(self.time_zone)
        firsts = {"upgrade": settings.upgrade.first_run_at, "downgrade": settings.downgrade.first_run_at}
        return [
            f"tier_settings.{name}.first_run_at"
            for name, first in firsts.items()
            if first is not None and first.astimezone(zone).fold == 1
        ]


class Program(ProgramSpec):
    program_id: Slug
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(default=1, ge=1, description="Incremented by every replacement")

    def is_active(self, moment: datetime) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)

    def vip(self, name: str) -> VipTier | None:
        return next((vip for vip in self.vip_tiers if vip.name == name), None)


class ProgramPage(Model):
    programs: list[Program] = Field(description="By program id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
