"""The reward catalog (master rewards), stock, and attributions (rewards granted to a card).

A master reward is a template unique by `external_id` in the loyalty group. Its stock is
finite unless it auto-generates codes without being limited; a finite stock is
`max_attribution_count` units, numbered 1..n (or, with `codes=loaded`, the codes loaded for
it), and an attribution takes units from it, never beyond. An unlimited reward's units are
counted all the same, so that a limit set later caps the total. An attribution is one reward
granted to one card, with a quantity, a validity window and its burns (each burn uses one or
more units).
"""

import hashlib
import json
from base64 import b32encode
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator

from loyalty_engine.kernel.errors import Conflict, InvalidRequest
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime, add_wall_duration
from loyalty_engine.kernel.types import (
    FREE_ID_PATTERN,
    DisplayName,
    OneLine,
    plain_decimal,
    single_line,
    unpadded,
)
from loyalty_engine.rewards.codes import CodeSource

TEXT_MAX = 128
LONG_TEXT_MAX = 16_384  # with the custom columns, a reward of 1-byte characters stays far below 400 KB
CUSTOM_VALUE_MAX = 1024
# In 4-byte characters (or escaped control characters) those limits allow ~270 KB of text: a
# reward is capped in bytes as stored (its JSON, as a file's update keeps its state before the
# chunk) too, so that twice a reward stays under DynamoDB's 400 KB
TEXT_BYTES_MAX = 180_000
MAX_QUANTITY = 100  # units per attribution: its burns are kept on its item
CUSTOM_COLUMNS = tuple(f"c{i}" for i in range(32))
EXTERNAL_ID_PATTERN = FREE_ID_PATTERN
ATTRIBUTION_ID_PATTERN = FREE_ID_PATTERN
# A buy's or a burn's store: one line; its length checked on the string, so that one too long is
# `string_too_long` ("at most 128 characters"), not the optional field's generic `too_long`.
StoreId = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(single_line)]


class IntervalType(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"

    @classmethod
    def parse(cls, text: str) -> "IntervalType":
        """Singular or plural, any case: `day`, `Days`, ..."""
        found = _INTERVAL_NAMES.get(text.strip().lower())
        if found is None:
            raise ValueError(f"{text!r} is not one of days, weeks, months, years")
        return found


_INTERVAL_NAMES = {name: member for member in IntervalType for name in (member.value, member.value[:-1])}


class RuleBroken(Exception):
    """A reward or attribution rule: a stable reason code, the field, a message."""

    def __init__(self, code: str, field: str | None, message: str):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    def as_invalid_request(self) -> InvalidRequest:
        return InvalidRequest(
            self.message, code=self.code, details=[{"field": self.field, "reason": self.code}]
        )


class RewardSpec(DeferredModel):
    """A master reward's definition, as a partner writes it (file line or API body)."""

    model_config = ConfigDict(extra="forbid")

    name: DisplayName = Field(min_length=1, max_length=TEXT_MAX, description="Stored trimmed")
    monetary: bool = False
    monetary_type: Literal["value", "percentage"] | None = None
    monetary_value: (
        Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4), BeforeValidator(plain_decimal)]
        | None
    ) = None
    nqp_value: int = Field(ge=0, le=10**12, strict=True, description="NQ points spent to buy one unit")
    description: str | None = Field(default=None, max_length=LONG_TEXT_MAX)
    rich_description: str | None = Field(default=None, max_length=LONG_TEXT_MAX)
    holding_days: int = Field(default=0, ge=0, le=36_500, strict=True)
    validity_interval_count: int = Field(ge=1, le=1200, strict=True)
    validity_interval_type: IntervalType
    forced_validity: bool = False
    forced_validity_start: UtcDatetime | None = None
    forced_validity_end: UtcDatetime | None = None
    is_limited: bool = False
    max_attribution_count: int | None = Field(default=None, ge=0, le=10**9, strict=True)
    is_auto_generated: bool = False
    image_url: OneLine | None = Field(default=None, max_length=2048)
    custom: dict[str, OneLine] = Field(default_factory=dict, description="Custom columns c0..c31")
    codes: CodeSource | None = Field(
        default=None,
        description="Where the codes of its attributions come from: `generated` (the default) or "
        "`loaded` (the stock is the codes loaded with POST /v1/rewards/{external_id}/codes or a "
        "rewardcode file). Fixed once the reward exists; null on a replace keeps it.",
    )

    @field_validator("validity_interval_type", mode="before")
    @classmethod
    def _interval(cls, value: object) -> object:
        return IntervalType.parse(value) if isinstance(value, str) else value

    @field_validator("custom")
    @classmethod
    def _custom(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(CUSTOM_COLUMNS))
        if unknown:
            raise ValueError(f"unknown custom columns {unknown}: c0..c31 only")
        if any(len(text) > CUSTOM_VALUE_MAX for text in value.values()):
            raise ValueError(f"a custom value is at most {CUSTOM_VALUE_MAX} characters")
        return value

    def check(self) -> None:
        """The catalog's rules across fields (DOMAIN.md "Rewards"); raises RuleBroken."""
        size = len(self.model_dump_json().encode())
        if size > TEXT_BYTES_MAX:
            raise RuleBroken(
                "reward_too_large",
                self.largest_text(),
                f"the reward comes to {size:,} bytes as stored (JSON, UTF-8): at most {TEXT_BYTES_MAX:,} "
                "(a file's update keeps the reward twice in one item, which DynamoDB caps at 400 KB)",
            )
        if self.monetary:
            if self.monetary_type is None:
                raise RuleBroken("monetary_incomplete", "monetary_type", "monetary=1 needs monetary_type")
            if self.monetary_value is None:
                raise RuleBroken("monetary_incomplete", "monetary_value", "monetary=1 needs monetary_value")
            if self.monetary_type == "percentage" and self.monetary_value > 100:
                raise RuleBroken("invalid_value", "monetary_value", "a percentage is at most 100")
        if self.forced_validity:
            if self.forced_validity_start is None or self.forced_validity_end is None:
                field = (
                    "forced_validity_start" if self.forced_validity_start is None else "forced_validity_end"
                )
                raise RuleBroken("forced_validity_incomplete", field, "forced_validity=1 needs start and end")
            if self.forced_validity_end <= self.forced_validity_start:
                raise RuleBroken(
                    "invalid_validity_window",
                    "forced_validity_end",
                    "forced_validity_end must be after the start",
                )
        count = self.max_attribution_count
        if self.code_source == CodeSource.LOADED:
            if self.is_auto_generated:
                raise RuleBroken(
                    "codes_conflict", "is_auto_generated", "codes=loaded takes is_auto_generated 0 or empty"
                )
            if count:
                raise RuleBroken(
                    "stock_with_loaded_codes",
                    "max_attribution_count",
                    "with codes=loaded the stock is the loaded codes: max_attribution_count 0 or empty",
                )
            return
        if self.is_auto_generated:
            if self.is_limited and not count:
                raise RuleBroken(
                    "limited_without_stock",
                    "max_attribution_count",
                    "is_limited=1 needs max_attribution_count >= 1",
                )
            if not self.is_limited and count:
                raise RuleBroken(
                    "stock_with_auto_generation",
                    "max_attribution_count",
                    "an auto-generated, unlimited reward takes max_attribution_count 0 or empty",
                )
            return
        if count is None:
            raise RuleBroken(
                "stock_undefined",
                "max_attribution_count",
                "no stock defined: give max_attribution_count, or is_auto_generated=1",
            )
        if count == 0:
            if self.is_limited:
                raise RuleBroken(
                    "limited_without_stock",
                    "max_attribution_count",
                    "is_limited=1 needs max_attribution_count >= 1",
                )
            raise RuleBroken(
                "no_stock",
                "max_attribution_count",
                "max_attribution_count is 0 and codes are not auto-generated: nothing could be attributed",
            )

    def largest_text(self) -> str:
        """The field whose text takes the most bytes as stored (a custom column by its name)."""
        texts = {
            "name": self.name,
            "description": self.description,
            "rich_description": self.rich_description,
        }
        texts |= {"image_url": self.image_url, **self.custom}
        return max(texts, key=lambda field: len(json.dumps(texts[field] or "", ensure_ascii=False).encode()))

    @property
    def code_source(self) -> CodeSource:
        return self.codes or CodeSource.GENERATED

    @property
    def stock_limit(self) -> int | None:
        """Units of a generated-codes reward that can ever be attributed; None = unlimited
        (auto-generated, not limited). A loaded-codes reward's stock is its loaded codes."""
        if self.code_source == CodeSource.LOADED:
            return 0
        if self.is_auto_generated and not self.is_limited:
            return None
        return self.max_attribution_count or 0

    def limit_with(self, loaded: int) -> int | None:
        """Units that can ever be attributed, given the codes loaded for it so far."""
        return loaded if self.code_source == CodeSource.LOADED else self.stock_limit

    def check_codes_change(self, stored: "RewardSpec | None") -> None:
        """`codes` is fixed once the reward exists (units and loaded codes share one counter)."""
        if stored is not None and stored.code_source != self.code_source:
            raise RuleBroken(
                "codes_setting_locked",
                "codes",
                f"the reward's codes are {stored.code_source.value}: this cannot change once it exists",
            )

    def validity_window(self, start: datetime, zone_name: str) -> tuple[datetime, datetime]:
        """An attribution's window when bought at `start`: the forced one, else holding + interval,
        counted in the wall time of `zone_name` (the card's program's zone)."""
        if self.forced_validity and self.forced_validity_start and self.forced_validity_end:
            return self.forced_validity_start, self.forced_validity_end
        valid_from = (
            add_wall_duration(start, self.holding_days, "day", zone_name) if self.holding_days else start
        )
        unit = self.validity_interval_type.value[:-1]
        return valid_from, add_wall_duration(valid_from, self.validity_interval_count, unit, zone_name)  # type: ignore[arg-type]


class MasterReward(RewardSpec):
    external_id: str = Field(pattern=EXTERNAL_ID_PATTERN)
    codes: CodeSource = Field(default=CodeSource.GENERATED, description="`generated` or `loaded`")
    created_at: UtcDatetime
    updated_at: UtcDatetime
    updated_by: str = Field(description="`api` or `import:<import id>:<line>`")

    @field_validator("codes", mode="before")
    @classmethod
    def _default_codes(cls, value: object) -> object:
        return CodeSource.GENERATED if value is None else value


class RewardView(MasterReward):
    attributed: int = Field(
        description="Units attributed so far (counted while unlimited too: a limit set later caps the total)"
    )
    remaining: int | None = Field(description="Units left; null when unlimited")
    codes_loaded: int | None = Field(default=None, description="Codes loaded so far (codes=loaded only)")
    codes_left: int | None = Field(
        default=None, description="Loaded codes not handed out yet (codes=loaded only); 0 = exhausted"
    )


class Burn(DeferredModel):
    source: str = Field(description="`api:<idempotency key>` or `import:<import id>:<line>`")
    burned_at: UtcDatetime
    quantity: int = Field(ge=1)
    context: str | None = None
    store_id: str | None = None
    recorded_at: UtcDatetime
    fingerprint: str | None = None
    burned_after: int | None = Field(default=None, description="Units burned once this burn was recorded")


class Attribution(DeferredModel):
    attribution_id: str
    reward_id: str = Field(description="The master reward's external_id")
    card_code: str
    program_id: str
    quantity: int = Field(ge=1)
    codes: list[str]
    earned_at: UtcDatetime
    valid_from: UtcDatetime
    valid_until: UtcDatetime
    context: str | None = None
    store_id: str | None = None
    nqp_spent: int = Field(ge=0, description="NQ points spent (0 for a partner's earnreward import)")
    source: str = Field(description="`api:<idempotency key>` or `import:<import id>:<line>`")
    created_at: UtcDatetime
    burned: int = Field(default=0, ge=0, description="Units burned so far")
    burns: list[Burn] = Field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.quantity - self.burned


class BuyRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    reward_id: Annotated[str, BeforeValidator(unpadded)] = Field(
        pattern=EXTERNAL_ID_PATTERN, description="The master reward's external_id"
    )
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY, strict=True)
    context: OneLine | None = Field(default=None, max_length=1024)
    store_id: StoreId | None = None


class BurnAttributionRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY, strict=True)
    burned_at: UtcDatetime | None = Field(default=None, description="Default: now; never in the future")
    context: OneLine | None = Field(default=None, max_length=1024)
    store_id: StoreId | None = None


class AttributionBurnResult(DeferredModel):
    attribution_id: str
    card_code: str
    burn: Burn
    burned: int
    remaining: int


Units = Annotated[int, Field(ge=0)]


def check_burn(
    attribution: Attribution, card_code: str, burned_at: datetime, quantity: int, now: datetime
) -> None:
    """A burn's rules (file and API alike); raises RuleBroken."""
    if attribution.card_code != card_code:
        raise RuleBroken(
            "attribution_of_other_card", "attribution_id", "the attribution belongs to another card"
        )
    if attribution.remaining <= 0:
        raise RuleBroken("already_burned", "attribution_id", "the attribution is already fully burned")
    if quantity > attribution.remaining:
        raise RuleBroken(
            "insufficient_quantity", "quantity", f"only {attribution.remaining} unit(s) left to burn"
        )
    if burned_at > now:
        raise RuleBroken("burn_date_in_future", "burn_date", "a burn cannot be dated in the future")
    if not attribution.valid_from <= burned_at < attribution.valid_until:
        raise RuleBroken(
            "burn_outside_validity",
            "burn_date",
            f"the attribution is valid from {attribution.valid_from.isoformat()} "
            f"until {attribution.valid_until.isoformat()}",
        )


def check_buyable(reward: MasterReward, now: datetime) -> None:
    """A reward whose forced validity has ended at `now` cannot be bought: its attribution could
    never be used. One whose forced validity has not started yet can (it is used from the start)."""
    end = reward.forced_validity_end if reward.forced_validity else None
    if end is not None and end <= now:
        raise Conflict(
            f"reward {reward.external_id!r} can no longer be bought: its validity ended at {end.isoformat()}",
            code="reward_expired",
            details=[
                {"field": "reward_id", "reason": "reward_expired", "forced_validity_end": end.isoformat()}
            ],
        )


def out_of_stock(reward_id: str) -> Conflict:
    return Conflict(f"reward {reward_id!r} is out of stock", code="out_of_stock")


def generated_attribution_id(job_id: str, line: int) -> str:
    digest = b32encode(hashlib.sha256(f"{job_id}:{line}".encode()).digest()).decode()[:20]
    return f"AG-{digest}"
