"""Loyalty programs: NQ/Q point settings, card code series, tiers (stored here; computed by tier runs)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from loyalty_engine.domain.timeutil import DurationUnit, UtcDatetime, add_duration

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, description="Lower-case letters, digits and dashes")]
Rounding = Literal["nearest", "up", "down"]
_ROUNDING = {"nearest": ROUND_HALF_UP, "up": ROUND_CEILING, "down": ROUND_FLOOR}
Multiplier = Annotated[Decimal, Field(gt=0, le=100, max_digits=6, decimal_places=3)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Duration(Model):
    """A period such as 30 days or 1 year. Units accept singular or plural, any case."""

    value: int = Field(ge=1, le=36_500)
    unit: DurationUnit

    @field_validator("unit", mode="before")
    @classmethod
    def _normalise_unit(cls, unit: object) -> object:
        if isinstance(unit, str):
            unit = unit.strip().lower()
            return unit[:-1] if unit.endswith("s") else unit
        return unit

    @model_validator(mode="after")
    def _at_most_a_century(self) -> Duration:
        days_per_unit = {"day": 1, "week": 7, "month": 31, "year": 366}
        if self.value * days_per_unit[self.unit] > 36_600:
            raise ValueError("a period may not exceed 100 years")
        return self

    def after(self, moment: datetime) -> datetime:
        return add_duration(moment, self.value, self.unit)


class QPointSettings(Model):
    """Qualifying points: they only place members in tiers and are never spent."""

    conversion_rate: Decimal = Field(default=Decimal(1), ge=0, le=10_000, max_digits=12, decimal_places=4)
    rounding: Rounding = "down"
    holding_period: Duration | None = None
    validity: Duration | None = None

    def points_for(self, amount: Decimal, multiplier: Decimal = Decimal(1)) -> int:
        return int(
            (amount * self.conversion_rate * multiplier).quantize(Decimal(1), _ROUNDING[self.rounding])
        )


class NQPointSettings(QPointSettings):
    """Non-qualifying points: the program's currency."""

    max_balance: int = Field(default=0, ge=0, description="0 means unlimited")


class CardCodeSettings(Model):
    """Card codes are generated (prefix + random digits + Luhn check digit) or imported ("manual")."""

    generation: Literal["auto", "manual"] = "auto"
    prefix: str = Field(default="", pattern=r"^[0-9]{0,10}$")
    length: int = Field(default=13, ge=8, le=24)

    @model_validator(mode="after")
    def _room_for_random_digits(self) -> CardCodeSettings:
        if self.length - len(self.prefix) - 1 < 6:
            raise ValueError(
                "length must leave at least 6 random digits after the prefix and before the check digit"
            )
        return self


class Tier(Model):
    rank: int = Field(ge=1, le=50)
    name: str = Field(min_length=1, max_length=64)
    q_multiplier: Multiplier | None = Field(default=None, description="Defaults to the rank")
    nq_multiplier: Multiplier | None = Field(default=None, description="Defaults to the rank")
    entry_threshold: int = Field(ge=0, description="Q points needed to enter the tier")
    downgrade_threshold: int = Field(ge=0, description="Q points needed to stay in the tier")

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
    first_run_at: UtcDatetime
    periodicity: Literal["daily", "weekly", "monthly", "yearly"] = "daily"

    _minutes = field_validator("first_run_at")(_whole_minute)


class DowngradeSchedule(Model):
    mode: Literal["calendar", "relative"] = "calendar"
    first_run_at: UtcDatetime | None = Field(default=None, description="calendar mode")
    periodicity: Literal["daily", "weekly", "monthly", "yearly"] = "yearly"
    every: Duration | None = Field(default=None, description="relative mode: from each member's subscription")

    _minutes = field_validator("first_run_at")(_whole_minute)

    @model_validator(mode="after")
    def _mode_fields(self) -> DowngradeSchedule:
        if self.mode == "calendar" and self.first_run_at is None:
            raise ValueError("calendar downgrades need first_run_at")
        if self.mode == "relative" and self.every is None:
            raise ValueError("relative downgrades need `every` (e.g. 1 year)")
        return self


class TierSettings(Model):
    tiers: list[Tier] = Field(min_length=1, max_length=50)
    max_tier_downgrade: int = Field(default=1, ge=1, le=50)
    upgrade: Schedule
    downgrade: DowngradeSchedule

    @model_validator(mode="after")
    def _ordered_tiers(self) -> TierSettings:
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

    name: str = Field(min_length=1, max_length=128)
    kind: Literal["simple", "tiered"] = "simple"
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of order amounts")
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    card_codes: CardCodeSettings = CardCodeSettings()
    nq_points: NQPointSettings = NQPointSettings()
    q_points: QPointSettings = QPointSettings()
    tier_settings: TierSettings | None = None
    vip_tiers: list[VipTier] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> ProgramSpec:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.kind == "tiered" and self.tier_settings is None:
            raise ValueError("a tiered program needs tier_settings")
        if self.kind == "simple" and self.tier_settings is not None:
            raise ValueError("a simple program has no tier_settings")
        if len({vip.name for vip in self.vip_tiers}) != len(self.vip_tiers):
            raise ValueError("VIP tier names must be unique")
        return self


class Program(ProgramSpec):
    program_id: Slug
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(default=1, ge=1, description="Incremented by every replacement")

    def is_active(self, moment: datetime) -> bool:
        return self.starts_at <= moment and (self.ends_at is None or moment < self.ends_at)

    def vip(self, name: str) -> VipTier | None:
        return next((vip for vip in self.vip_tiers if vip.name == name), None)
