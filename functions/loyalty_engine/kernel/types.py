"""Value types every capability shares: slugs (ids in URLs and keys), frozen models, periods, time zones."""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import DurationUnit, add_duration, add_wall_duration, known_time_zone

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, description="Lower-case letters, digits and dashes")]
TimeZoneName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
        description="An IANA time zone name, e.g. Europe/Paris",
        examples=["Europe/Paris"],
    ),
    AfterValidator(known_time_zone),
]

# Numbers are read one way only: ASCII digits. Python's int() and Decimal() also take other
# scripts' digits, underscores and blanks ("١٢", "1_0", " 7 "), and pydantic's lax mode a boolean:
# a request whose number could be read two ways is refused with `invalid_number`.
_PLAIN_INT = re.compile(r"-?[0-9]{1,18}")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?")
# Names, ids, references, reasons and contexts are one line of text: no control character at
# all (tab and line breaks included). Free text that may run over lines (descriptions, an
# adjustment's comment) keeps tab, LF and CR; the request guard refuses the rest everywhere.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _not_a_number(value: Any) -> PydanticCustomError:
    return PydanticCustomError(
        "invalid_number", "{value} is not a number written in ASCII digits", {"value": value}
    )


def plain_int(value: Any) -> Any:
    """A query value or other text that must be an integer: ASCII digits only, no boolean."""
    if isinstance(value, bool) or (isinstance(value, str) and not _PLAIN_INT.fullmatch(value)):
        raise _not_a_number(value)
    return value


def plain_decimal(value: Any) -> Any:
    """An amount: a JSON number or a string of ASCII digits with an optional fraction, never a
    boolean. A JSON number is taken in plain notation (`1E+2` is `100`): the value is stored
    and answered as a string, which must be one this validator takes back (`"1E+2"` is not)."""
    if isinstance(value, bool) or (isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value)):
        raise _not_a_number(value)
    if isinstance(value, int | Decimal):
        text = format(Decimal(value), "f")
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise _not_a_number(value)
        return Decimal(text)
    return value


def single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "invalid_character",
            "one line of text: no control character (tab and line breaks included)",
        )
    return value


OneLine = Annotated[str, AfterValidator(single_line)]  # a name, a reference, a reason, a context
Name = OneLine

# Spaces (any Unicode space) before or after a text; control characters are not spaces here
_PADDING = re.compile(r"^[^\S\x00-\x1f\x7f-\x9f]+|[^\S\x00-\x1f\x7f-\x9f]+$")


def trimmed(value: Any) -> Any:
    """Display text as a person means it: the spaces around it are not part of it (a padded
    spreadsheet cell, a stray space in a form). A control character is left in place, for
    `single_line` to refuse."""
    return _PADDING.sub("", value) if isinstance(value, str) else value


# A name shown to people (a master reward's): stored trimmed, from a file or from the API
DisplayName = Annotated[str, BeforeValidator(trimmed), AfterValidator(single_line)]


def not_blank(value: str) -> str:
    """A text that must say something (a reason): spaces alone (any Unicode space) say nothing,
    as a partner file's trimmed cell of spaces is empty."""
    if not value.strip():
        raise PydanticCustomError("blank", "must say something: not spaces only")
    return value


# A free-form id (a partner's external id): printable, no '/' or '#' (they separate key parts),
# and not `.` or `..`, which a URL path resolves away (`/v1/rewards/.` is `/v1/rewards/`: a reward
# no route could name). Three alternatives, as the regex engine has no lookahead: a first
# character other than '.', a '.' then another, '..' then at least one more.
_ID_CHAR = r"[^/#\x00-\x1f\x7f-\x9f]"
FREE_ID_PATTERN = (
    rf"^(?:[^\s/#.\x00-\x1f\x7f-\x9f]{_ID_CHAR}{{0,127}}"
    rf"|\.[^/#.\x00-\x1f\x7f-\x9f]{_ID_CHAR}{{0,126}}"
    rf"|\.\.{_ID_CHAR}{{1,126}})$"
)


def unpadded(value: Any) -> Any:
    """A free-form id as a request names it: no space (any Unicode space) before or after it,
    refused as a control character is (`invalid_character`): "coffee " and "coffee" would be
    two ids no till or operator tells apart. Partner files trim their cells; requests are not
    trimmed."""
    if isinstance(value, str) and value != value.strip():
        raise PydanticCustomError("invalid_character", "leading or trailing spaces are not allowed in ids")
    return value


class Model(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def same_spec(spec: BaseModel, stored: BaseModel | None) -> bool:
    """Whether a PUT's `spec` asks for what `stored` (the item it replaces) already holds: a
    replayed PUT then changes nothing (no new version, no new updated_at) and answers the same."""
    if stored is None:
        return False
    fields = set(type(spec).model_fields)
    return type(spec).model_validate(stored.model_dump(include=fields)) == spec


class Duration(Model):
    """A period such as 30 days or 1 year. Units accept singular or plural, any case."""

    value: int = Field(ge=1, le=36_500, strict=True)
    unit: DurationUnit

    @field_validator("unit", mode="before")
    @classmethod
    def _normalise_unit(cls, unit: object) -> object:
        if isinstance(unit, str):
            unit = unit.strip().lower()
            return unit[:-1] if unit.endswith("s") else unit
        return unit

    @model_validator(mode="after")
    def _at_most_a_century(self) -> "Duration":
        days_per_unit = {"day": 1, "week": 7, "month": 31, "year": 366}
        if self.value * days_per_unit[self.unit] > 36_600:
            raise ValueError("a period may not exceed 100 years")
        return self

    def after(self, moment: datetime, zone_name: str | None = None) -> datetime:
        """`moment` + the period; with `zone_name`, counted in that zone's wall time."""
        if zone_name is None:
            return add_duration(moment, self.value, self.unit)
        return add_wall_duration(moment, self.value, self.unit, zone_name)
