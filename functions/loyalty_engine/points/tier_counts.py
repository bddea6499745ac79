"""Members per tier of a program, as counted by its daily reconciliation run (pure functions).

Counting members per tier on demand would read every member of the program (a Query of each
gsi1 shard): too dear for a console's chart. The reconciliation run reads every member once a
night anyway, so it counts them as it goes (per shard, in each shard's checkpoint) and its
closer keeps the totals, stamped with the run's scheduled time: a count "as of" last night,
which enrolments and tier changes since then do not move.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program

NO_TIER = "none"  # the key of members without a standard tier (a program without tiers)


class TierTally(DeferredModel):
    """The counts as stored: tier rank (as text) or NO_TIER -> members; VIP tier -> members."""

    model_config = ConfigDict(extra="ignore")

    as_of: datetime
    members: int = 0
    by_rank: dict[str, int] = Field(default_factory=dict)
    by_vip_tier: dict[str, int] = Field(default_factory=dict)


class TierCount(DeferredModel):
    rank: int | None = Field(description="The tier's rank (1: the first); null: members without a tier")
    name: str | None = Field(description="The tier's name in the program now (null: no such tier any more)")
    members: int


class VipTierCount(DeferredModel):
    name: str
    members: int


class TierCounts(DeferredModel):
    program_id: str
    as_of: datetime | None = Field(
        description="The scheduled time of the reconciliation run that counted (null: not counted yet)"
    )
    members: int = Field(description="Members counted")
    tiers: list[TierCount] = Field(description="Every tier of the program, lowest rank first, then no tier")
    vip_tiers: list[VipTierCount] = Field(
        description="Members holding each VIP tier (a member may hold several)"
    )


def tally(members: Iterable[Member]) -> tuple[Counter[str], Counter[str]]:
    """(members by tier rank, members by VIP tier) of one page of members."""
    by_rank: Counter[str] = Counter()
    by_vip: Counter[str] = Counter()
    for member in members:
        by_rank[NO_TIER if member.tier_rank is None else str(member.tier_rank)] += 1
        by_vip.update(set(member.vip_tiers))
    return by_rank, by_vip


def add(total: Mapping[str, int], more: Mapping[str, int]) -> dict[str, int]:
    summed = Counter(total)
    summed.update(more)
    return dict(sorted(summed.items()))


def counts_view(program: Program, tally_: TierTally | None) -> TierCounts:
    """What the API answers: every tier of the program now (zero where nobody was counted), named."""
    by_rank = tally_.by_rank if tally_ is not None else {}
    tiers = program.tier_settings.tiers if program.tier_settings is not None else []
    named = {str(tier.rank): tier.name for tier in tiers}
    ranks = sorted({*named, *(rank for rank in by_rank if rank != NO_TIER)}, key=int)
    rows = [TierCount(rank=int(rank), name=named.get(rank), members=by_rank.get(rank, 0)) for rank in ranks]
    if by_rank.get(NO_TIER):
        rows.append(TierCount(rank=None, name=None, members=by_rank[NO_TIER]))
    vip_names = [tier.name for tier in program.vip_tiers]
    by_vip = tally_.by_vip_tier if tally_ is not None else {}
    vips = [VipTierCount(name=name, members=by_vip.get(name, 0)) for name in vip_names]
    vips += [
        VipTierCount(name=name, members=n) for name, n in sorted(by_vip.items()) if name not in vip_names
    ]
    return TierCounts(
        program_id=program.program_id,
        as_of=tally_.as_of if tally_ is not None else None,
        members=tally_.members if tally_ is not None else 0,
        tiers=rows,
        vip_tiers=vips,
    )
