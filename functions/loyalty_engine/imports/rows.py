"""The columns of each import scope and the reading of one line into checked values.

Every refusal is a `LineSkipped` with a stable reason code, the column and a message; the
import reports it with the line and goes on with the next line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from loyalty_engine.imports.files import FILE_TZ, Scope, ValueProblem, parse_file_datetime
from loyalty_engine.imports.problems import LineSkipped
from loyalty_engine.kernel.types import trimmed
from loyalty_engine.rewards.codes import CodeSource
from loyalty_engine.rewards.models import (
    CUSTOM_COLUMNS,
    CUSTOM_VALUE_MAX,
    EXTERNAL_ID_PATTERN,
    MAX_QUANTITY,
    TEXT_MAX,
    IntervalType,
    RewardSpec,
    RuleBroken,
)

NULL = "NULL"  # exactly: " NULL" or "null" are ordinary text
_FREE_ID = re.compile(EXTERNAL_ID_PATTERN)


@dataclass(frozen=True)
class Columns:
    mandatory: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.mandatory + self.optional)


FLAGS = ("monetary", "forced_validity", "is_limited", "is_auto_generated")

COLUMNS: dict[Scope, Columns] = {
    Scope.MASTERREWARD: Columns(
        mandatory=(
            "external_id",
            "name",
            "monetary",
            "nqp_value",
            "holding_days",
            "validity_interval_count",
            "validity_interval_type",
            "forced_validity",
        ),
        optional=(
            "monetary_type",
            "monetary_value",
            "description",
            "rich_description",
            "forced_validity_start",
            "forced_validity_end",
            "is_limited",
            "max_attribution_count",
            "is_auto_generated",
            "image_url",
            "codes",  # ours: generated (the default) or loaded; see docs/rewards-and-imports.md
            *CUSTOM_COLUMNS,
        ),
    ),
    Scope.REWARDCODE: Columns(mandatory=("external_id", "code"), optional=()),  # apply_rewardcode
    # earn_date: "if absent, the current datetime" (DOMAIN.md), so the column may be left out.
    # attribution_id: the column is required; its value must be empty for an auto-generated reward.
    Scope.EARNREWARD: Columns(
        mandatory=("reward_id", "card_code", "attribution_id", "validity_start_date", "validity_end_date"),
        optional=("quantity", "earn_date", "context", "burn_date", "store_id"),
    ),
    Scope.BURNREWARD: Columns(
        mandatory=("card_code", "attribution_id"),
        optional=("context", "burn_date", "store_id"),
    ),
    # member and vip lines are read by rows_members.py
    Scope.MEMBER: Columns(mandatory=("card_code",), optional=("customer_ref", "subscribed_at")),
    Scope.VIP: Columns(mandatory=("card_code", "vip_tier", "action"), optional=("reason",)),
}


def row_of(header: list[str], fields: list[str]) -> dict[str, str]:
    if len(fields) > len(header) and not "".join(fields[len(header) :]).strip():
        fields = fields[: len(header)]  # empty cells after the last column: trailing separators
    if len(fields) != len(header):
        raise LineSkipped(
            "column_count", None, f"the line has {len(fields)} values for {len(header)} columns"
        )
    if (
        fields[0].strip().removeprefix("\ufeff").lower() == header[0]
        and [field.strip().removeprefix("\ufeff").lower() for field in fields] == header
    ):
        # two exports joined (`cat a.csv b.csv`): the second one's header, not a line of data
        raise LineSkipped("repeated_header", None, "the header line again, inside the file (files joined?)")
    return dict(zip(header, fields, strict=True))


# --- cell parsers ------------------------------------------------------------------------


def _flag(column: str, text: str) -> bool:
    value = text.strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise LineSkipped("invalid_flag", column, f"{column} takes 0 or 1, not {text!r}")


_INT = re.compile(r"^[0-9]{1,15}$")


def _int(column: str, text: str, minimum: int) -> int:
    value = text.strip()
    if not _INT.match(value) or int(value) < minimum:
        kind = "a positive integer" if minimum else "an integer >= 0"
        raise LineSkipped("invalid_integer", column, f"{column} must be {kind}, not {text!r}")
    return int(value)


_DECIMAL = re.compile(r"^[0-9]{1,14}(\.[0-9]{1,4})?$")


def _decimal(column: str, text: str) -> Decimal:
    value = text.strip()
    if not _DECIMAL.match(value):
        raise LineSkipped(
            "invalid_number",
            column,
            f"{column} must be a number >= 0 with up to 4 decimals after a dot, no thousands separator "
            f"(such as 9.99), not {text!r}",
        )
    return Decimal(value)


def _text(column: str, text: str, limit: int = TEXT_MAX) -> str:
    if len(text) > limit:
        raise LineSkipped("too_long", column, f"{column} is longer than {limit} characters")
    return text


def _datetime(column: str, text: str, *, time_optional: bool = False) -> datetime:
    try:
        return parse_file_datetime(text, time_optional=time_optional)
    except ValueProblem as problem:
        raise LineSkipped(problem.code, column, f"{column}: {problem.message}") from None


def _present(row: dict[str, str], column: str) -> str | None:
    """The cell's text, or None when empty, absent or NULL (earn and burn files never erase)."""
    value = row.get(column)
    if value is None or value == NULL or not value.strip():
        return None
    return value


def _required(row: dict[str, str], column: str) -> str:
    value = _present(row, column)
    if value is None:
        raise LineSkipped("missing_value", column, f"{column} is mandatory and empty")
    return value.strip()


# --- masterreward ------------------------------------------------------------------------

_MASTER_PARSERS: dict[str, Any] = {
    "name": lambda t: _text("name", trimmed(t)),  # as the API's (`DisplayName`)
    "monetary_type": lambda t: _monetary_type(t),
    "monetary_value": lambda t: _decimal("monetary_value", t),
    "nqp_value": lambda t: _int("nqp_value", t, 0),
    "description": lambda t: t,
    "rich_description": lambda t: t,
    "holding_days": lambda t: _int("holding_days", t, 0),
    "validity_interval_count": lambda t: _int("validity_interval_count", t, 1),
    "validity_interval_type": lambda t: _interval(t),
    "forced_validity_start": lambda t: _datetime("forced_validity_start", t, time_optional=True),
    "forced_validity_end": lambda t: _datetime("forced_validity_end", t, time_optional=True),
    "max_attribution_count": lambda t: _int("max_attribution_count", t, 0),
    "image_url": lambda t: t,
    "codes": lambda t: _codes(t),
}


def _codes(text: str) -> CodeSource:
    try:
        return CodeSource(text.strip().lower())
    except ValueError:
        raise LineSkipped("invalid_value", "codes", f"codes is generated or loaded, not {text!r}") from None


def _monetary_type(text: str) -> str:
    value = text.strip().lower()
    if value not in ("value", "percentage"):
        raise LineSkipped(
            "invalid_value", "monetary_type", f"monetary_type is value or percentage, not {text!r}"
        )
    return value


def _interval(text: str) -> IntervalType:
    try:
        return IntervalType.parse(text)
    except ValueError as error:
        raise LineSkipped("invalid_interval_type", "validity_interval_type", str(error)) from None


def _free_id(column: str, text: str) -> str:
    """An id the API can name too (`EXTERNAL_ID_PATTERN`)."""
    if not _FREE_ID.fullmatch(text):
        problem = (
            "at most 128 characters, no leading space, no '/', '#' or control character, not '.' or '..'"
        )
        raise LineSkipped("invalid_value", column, f"{column}: {problem}")
    return text


def master_external_id(row: dict[str, str]) -> str:
    return _free_id("external_id", _text("external_id", _required(row, "external_id")))


def master_spec(row: dict[str, str], stored: RewardSpec | None, null_erases: bool) -> RewardSpec:
    """A masterreward line applied over the stored reward (None when new).

    An empty cell keeps the stored value (a new reward: the default; a flag is 0); `NULL`
    erases it when the group's `null_erases` is on, and is ignored otherwise. A mandatory
    column must hold a value in every line.
    """
    mandatory = COLUMNS[Scope.MASTERREWARD].mandatory
    values: dict[str, Any] = stored.model_dump() if stored is not None else {}
    custom: dict[str, str] = dict(values.get("custom") or {})
    for column, text in row.items():
        if column == "external_id":
            continue
        if text == NULL:
            if column in mandatory:
                raise LineSkipped("missing_value", column, f"{column} is mandatory and cannot be NULL")
            if null_erases and column != "codes":  # `codes` is fixed once the reward exists
                if column in CUSTOM_COLUMNS:
                    custom.pop(column, None)
                else:
                    values[column] = None
            continue
        if not text.strip():
            if column in mandatory and column not in FLAGS:
                raise LineSkipped("missing_value", column, f"{column} is mandatory and empty")
            if column in FLAGS:
                values[column] = False  # DOMAIN.md: an empty flag means 0, on an update too
            continue
        if column in CUSTOM_COLUMNS:
            custom[column] = _text(column, text, CUSTOM_VALUE_MAX)
        elif column in FLAGS:
            values[column] = _flag(column, text)
        else:
            values[column] = _MASTER_PARSERS[column](text)
    values["custom"] = custom
    for flag in FLAGS:
        if values.get(flag) is None:
            values[flag] = False
    try:
        spec = RewardSpec.model_validate({k: v for k, v in values.items() if k in RewardSpec.model_fields})
    except ValidationError as error:
        raise LineSkipped.of(error) from None
    try:
        spec.check()
        spec.check_codes_change(stored)
    except RuleBroken as broken:
        raise LineSkipped(broken.code, broken.field, broken.message) from None
    return spec


# --- earnreward --------------------------------------------------------------------------


@dataclass(frozen=True)
class EarnLine:
    reward_id: str
    card_code: str
    attribution_id: str | None  # None: to be generated (auto-generated rewards)
    quantity: int
    earned_at: datetime
    valid_from: datetime
    valid_until: datetime
    burned_at: datetime | None
    context: str | None
    store_id: str | None


def earn_line(row: dict[str, str], now: datetime, day_start: datetime) -> EarnLine:
    """The checks that need nothing stored; the reward, card, stock and uniqueness come after."""
    reward_id = _text("reward_id", _required(row, "reward_id"))
    card_code = _text("card_code", _required(row, "card_code"))
    attribution = _present(row, "attribution_id")
    if attribution is not None:
        attribution = _free_id("attribution_id", _text("attribution_id", attribution.strip()))
    quantity_text = _present(row, "quantity")
    quantity = _int("quantity", quantity_text, 1) if quantity_text else 1
    if quantity > MAX_QUANTITY:
        raise LineSkipped("invalid_integer", "quantity", f"quantity is at most {MAX_QUANTITY} per line")
    earn_text = _present(row, "earn_date")
    earned_at = _datetime("earn_date", earn_text) if earn_text else now
    valid_from = _datetime("validity_start_date", _required(row, "validity_start_date"))
    valid_until = _datetime("validity_end_date", _required(row, "validity_end_date"))
    burn_text = _present(row, "burn_date")
    burned_at = _datetime("burn_date", burn_text) if burn_text else None
    if earned_at < day_start:
        day = f"{day_start.astimezone(FILE_TZ):%Y-%m-%d}"  # the upload's day (docs/decisions.md)
        message = f"earn_date {(earn_text or '').strip()} is before the import day, {day} (GMT+1)"
        raise LineSkipped("earn_date_in_past", "earn_date", message)
    if valid_until <= valid_from:
        raise LineSkipped(
            "invalid_validity_window",
            "validity_end_date",
            "validity_end_date must be after validity_start_date",
        )
    if burned_at is not None:
        if burned_at > now:
            raise LineSkipped("burn_date_in_future", "burn_date", "burn_date cannot be in the future")
        if not valid_from <= burned_at < valid_until:
            raise LineSkipped(
                "burn_outside_validity", "burn_date", "burn_date is outside the validity window"
            )
    return EarnLine(
        reward_id=reward_id,
        card_code=card_code,
        attribution_id=attribution,
        quantity=quantity,
        earned_at=earned_at,
        valid_from=valid_from,
        valid_until=valid_until,
        burned_at=burned_at,
        context=_optional_text(row, "context", CONTEXT_MAX),
        store_id=_store_id(row),
    )


CONTEXT_MAX = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(column: str, value: str) -> str:
    """A value the API takes as one line of text (`kernel.types.OneLine`: a store id, a context,
    a customer_ref, a reason): a control character in it (a tab, a line break inside a quoted
    cell) skips the line as `invalid_value`, as the API refuses it (`invalid_character`)."""
    if _CONTROL.search(value):
        raise LineSkipped("invalid_value", column, f"{column}: one line of text, without a control character")
    return value


def _store_id(row: dict[str, str]) -> str | None:
    """Trimmed, as the API's store_id (`rewards.models.StoreId`)."""
    value = _present(row, "store_id")
    return None if value is None else one_line("store_id", _text("store_id", value.strip()))


def _optional_text(row: dict[str, str], column: str, limit: int = TEXT_MAX) -> str | None:
    value = _present(row, column)
    return one_line(column, _text(column, value, limit)) if value is not None else None


# --- burnreward --------------------------------------------------------------------------


@dataclass(frozen=True)
class BurnLine:
    card_code: str
    attribution_id: str
    burn_date: str | None  # parsed after the card and attribution are found (`burned_at`)
    context: str | None
    store_id: str | None

    def burned_at(self, now: datetime) -> datetime:
        """The burn's instant: absent = now; complete, in GMT+1, never in the future."""
        burned_at = _datetime("burn_date", self.burn_date) if self.burn_date else now
        if burned_at > now:
            raise LineSkipped("burn_date_in_future", "burn_date", "burn_date cannot be in the future")
        return burned_at


def burn_line(row: dict[str, str]) -> BurnLine:
    """A burn line's values; which of its problems is reported first follows the seed's example 3:
    missing values, then the card, the attribution, the date, the owner, what is left, validity."""
    return BurnLine(
        card_code=_text("card_code", _required(row, "card_code")),
        attribution_id=_text("attribution_id", _required(row, "attribution_id")),
        burn_date=_present(row, "burn_date"),
        context=_optional_text(row, "context", CONTEXT_MAX),
        store_id=_store_id(row),
    )
