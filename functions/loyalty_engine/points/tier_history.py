"""A member's tier history: one entry per change of standard tier or VIP tiers, with its cause."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loyalty_engine.points.job_names import JobName

TierCause = Literal["upgrade_run", "downgrade_run", "vip_grant", "vip_remove"]
REASON_MAX = 256


class TierRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int
    name: str


class RunRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job: JobName
    scheduled_at: datetime


class TierChange(BaseModel):
    """One entry of a member's tier history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime = Field(description="When it took effect: a run's scheduled time, or the VIP call's time")
    cause: TierCause
    previous_tier: TierRef | None = Field(description="Standard tier before (null: none)")
    new_tier: TierRef | None = Field(description="Standard tier after (null: none)")
    vip_tier: str | None = Field(default=None, description="The VIP tier granted or removed")
    vip_tiers: list[str] = Field(default_factory=list, description="The member's VIP tiers after the change")
    reason: str | None = Field(default=None, description="The reason given with a VIP grant or removal")
    q_points: int = Field(description="Valid Q points seen when deciding")
    run: RunRef | None = Field(default=None, description="The scheduled run that made the change")
    member_version: int = Field(description="The member's version the change created (orders the history)")
