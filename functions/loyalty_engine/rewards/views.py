"""What a read of a member's rewards answers: each attribution with its state at the time of
the answer (seed 000's lifecycle of a reward: given, usable, used, expired)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from loyalty_engine.rewards.models import Attribution

AttributionStatus = Literal["pending", "available", "burned", "expired"]


class AttributionView(Attribution):
    status: AttributionStatus = Field(
        description="At the time of the answer: `pending` (before `valid_from`: its holding days), "
        "`available` (units left, inside its validity window), `burned` (every unit), `expired` "
        "(units left, `valid_until` passed)"
    )

    @classmethod
    def of(cls, attribution: Attribution, now: datetime) -> AttributionView:
        return cls(**attribution.model_dump(), status=status_at(attribution, now))


def status_at(attribution: Attribution, now: datetime) -> AttributionStatus:
    """The window is [valid_from, valid_until), as a burn's date must fall in it."""
    if attribution.remaining <= 0:
        return "burned"
    if now >= attribution.valid_until:
        return "expired"
    if now < attribution.valid_from:
        return "pending"
    return "available"
