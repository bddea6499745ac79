"""A line's refusal: a stable reason code, the column and a message; the import reports it
with the line and goes on with the next line."""

from __future__ import annotations

from pydantic import ValidationError

from loyalty_engine.rewards.models import RuleBroken

# pydantic's error types that have a reason code of their own; any other is `invalid_value`
_CODES = {"missing": "missing_value", "string_too_long": "too_long"}
# a bound of a whole number (`Field(ge=..., le=...)`): the file's parser already read an integer,
# so the line is `invalid_integer` whichever bound it passes, as a value below the minimum is
_BOUNDS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})


class LineSkipped(RuleBroken):
    """A line's refusal: a rule of the catalog (`RuleBroken`) or of the file format."""

    @classmethod
    def of(cls, error: ValidationError) -> LineSkipped:
        """A model's refusal of a line's value (its first error), as the line's skip."""
        problem = error.errors()[0]
        column = str(problem["loc"][0]) if problem.get("loc") else "line"
        code = _CODES.get(problem["type"], "invalid_value")
        if problem["type"] in _BOUNDS and type(problem.get("input")) is int:
            code = "invalid_integer"
        return cls(code, column, f"{column}: {problem['msg']}")
