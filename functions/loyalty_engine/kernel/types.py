"""Value types every capability shares: slugs (ids in URLs and keys), frozen models, periods, time zones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from loyalty_engine.kernel.timeutil import DurationUnit, add_duration, known_time_zone

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
