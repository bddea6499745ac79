"""A line's refusal: a stable reason code, the column and a message; the import reports it
with the line and goes on with the next line."""

from __future__ import annotations

from pydantic import ValidationError

# pydantic's error types that have a reason code of their own; any other is `invalid_value`
_CODES = {"missing": "missing_value", "string_too_long": "too_long"}


class LineSkipped(Exception):
    def __init__(self, code: str, field: str | None, message: str):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    @classmethod
    def of(cls, error: ValidationError) -> LineSkipped:
        """A model's refusal of a line's value (its first error), as the line's skip."""
        problem = error.errors()[0]
        column = str(problem["loc"][0]) if problem.get("loc") else "line"
        return cls(_CODES.get(problem["type"], "invalid_value"), column, f"{column}: {problem['msg']}")
