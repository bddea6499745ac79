"""A member's tier history: one entry per change of standard tier or VIP tiers, with its cause."""

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.job_names import JobName

TierCause = Literal["upgrade_run", "downgrade_run", "vip_grant", "vip_remove"]
VIP_CAUSES: frozenset[str] = frozenset({"vip_grant", "vip_remove"})  # they keep the standard tier
TierSource = Literal["api", "import"]
REASON_MAX = 256


class TierRef(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int
    name: str


class RunRef(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job: JobName
    scheduled_at: datetime


class TierChange(DeferredModel):
    """One entry of a member's tier history."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime = Field(description="When it took effect: a run's scheduled time, or the VIP call's time")
    cause: TierCause
    previous_tier: TierRef | None = Field(description="Standard tier before (null: none)")
    new_tier: TierRef | None = Field(description="Standard tier after (null: none)")
    vip_tier: str | None = Field(default=None, description="The VIP tier granted or removed")
    vip_tiers: list[str] = Field(default_factory=list, description="The member's VIP tiers after the change")
    reason: str | None = Field(default=None, description="The reason given with a VIP grant or removal")
    source: TierSource | None = Field(
        default=None,
        description="Where a VIP change came from: `api`, or `import` (a vip file); null before this was kept",
    )
    import_line: str | None = Field(
        default=None, description="For an import: the file's line, as `import:<import id>:<line>`"
    )
    q_points: int = Field(description="Valid Q points seen when deciding")
    run: RunRef | None = Field(default=None, description="The scheduled run that made the change")
    member_version: int = Field(description="The member's version the change created (orders the history)")


def tiers_at(
    changes: list[TierChange], rank: int | None, vip_tiers: list[str], at: datetime
) -> tuple[int | None, list[str]]:
    """(standard tier rank, VIP tiers) a member held at `at`, from its tier history and its tiers
    now (`rank`, `vip_tiers`). Changes count by when they took effect, then by commit order.
    The standard tier comes from the last run's change (a VIP change records the standard tier
    as it was when written, which a late upgrade written after it may have changed since)."""
    ordered = sorted(changes, key=lambda change: (change.at, change.member_version))
    passed = [change for change in ordered if change.at <= at]
    if passed:
        last = passed[-1]
        runs = [change for change in passed if change.cause not in VIP_CAUSES]
        standard = runs[-1] if runs else last
        return (standard.new_tier.rank if standard.new_tier else None), list(last.vip_tiers)
    if not ordered:
        return rank, list(vip_tiers)
    first = ordered[0]  # the state before the first change
    before = set(first.vip_tiers)
    if first.cause == "vip_grant" and first.vip_tier:
        before.discard(first.vip_tier)
    elif first.cause == "vip_remove" and first.vip_tier:
        before.add(first.vip_tier)
    return (first.previous_tier.rank if first.previous_tier else None), sorted(before)
