"""Tier decisions: upgrade and downgrade runs, VIP grants, and the history entry of each change.

Pure functions of a program, a member and an instant. A run decides every member as of
its scheduled time, so that a run retried later (or an operator's run "as of" a past or
future instant) decides the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from loyalty_engine.points import ledger
from loyalty_engine.points.job_names import JobName
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program, TierSettings
from loyalty_engine.points.tier_history import VIP_CAUSES, RunRef, TierCause, TierChange, TierRef, tiers_at
from loyalty_engine.tiers.calendars import Calendar


def _ref(settings: TierSettings | None, rank: int | None) -> TierRef | None:
    tier = settings.tier(rank) if settings is not None else None
    return TierRef(rank=tier.rank, name=tier.name) if tier is not None else None


def valid_q_points(lots: Iterable[Lot], at: datetime) -> int:
    """Q points that count at `at`: past their holding period and not expired.

    `lots` are a member's live lots and, for an instant before the latest expiry that moved
    lots out (`PointsSummary.expired_until`), the Q history: a run decided late sees the lots
    that were valid at its scheduled time, even those that have expired since. An order counts
    from when it was placed, whenever it was recorded (late data is computed as of the time it
    happened)."""
    return ledger.available(lots, "q", at)


def upgrade_rank(settings: TierSettings, rank: int | None, q_points: int) -> int | None:
    """The highest tier whose entry threshold the Q points reach, if above the current one."""
    reached = max((tier.rank for tier in settings.tiers if tier.entry_threshold <= q_points), default=0)
    return reached if reached > (rank or 0) else rank


def downgrade_rank(settings: TierSettings, rank: int | None, q_points: int) -> int | None:
    """Below the downgrade threshold of their tier, a member drops to the highest lower tier
    whose downgrade threshold (the points needed to stay) the Q points reach, or to no tier,
    but never by more than `max_tier_downgrade` tiers in one run."""
    tier = settings.tier(rank)
    if tier is None or q_points >= tier.downgrade_threshold:
        return rank
    supported = max(
        (
            lower.rank
            for lower in settings.tiers
            if lower.rank < tier.rank and lower.downgrade_threshold <= q_points
        ),
        default=0,
    )
    floor = max(0, tier.rank - settings.max_tier_downgrade)
    return max(supported, floor) or None


def anniversary(member: Member, program: Program, at: datetime) -> datetime | None:
    """Relative downgrades: the member's latest anniversary (subscription + k periods, k >= 1) at `at`."""
    settings = program.tier_settings
    if settings is None or settings.downgrade.every is None:
        return None
    every = settings.downgrade.every
    calendar = Calendar(member.subscribed_at, every.value, every.unit, program.time_zone)
    return calendar.last_at_or_before(at, from_k=1)


def decide_run(
    program: Program,
    member: Member,
    job: JobName,
    scheduled_at: datetime,
    previous_run: datetime | None,
    q_points: int | None = None,
) -> TierChange | None:
    """The change a tier run makes to one member (None: none). `q_points`: the member's valid Q
    points at `scheduled_at` (by default, from the member's live lots).

    `previous_run` is the job's previous occurrence: a relative downgrade looks at the
    members whose anniversary fell after it, up to this run. A member already changed by
    this run (its mark is this run's time, or later) is left alone, so that a retried run
    never drops a member twice. So is a member the other job changed after this run's time
    (a run replayed late: the tier it would judge is no longer the one held then, and the
    later decision stands).
    """
    settings = program.tier_settings
    if settings is None or job not in ("tier-upgrade", "tier-downgrade"):
        return None
    mark = member.tier_marks.get(job)
    if mark is not None and mark >= scheduled_at:
        return None
    if ran_since(member, scheduled_at):
        return None  # a late upgrade may still be written into the history: `late_upgrade`
    if q_points is None:
        q_points = valid_q_points(member.lots, scheduled_at)
    if job == "tier-upgrade":
        new_rank = upgrade_rank(settings, member.tier_rank, q_points)
        cause: TierCause = "upgrade_run"
    else:
        if settings.downgrade.mode == "relative":
            due = anniversary(member, program, scheduled_at)
            if due is None or (previous_run is not None and due <= previous_run):
                return None
            if mark is not None and mark >= due:
                return None
        new_rank = downgrade_rank(settings, member.tier_rank, q_points)
        cause = "downgrade_run"
    if new_rank == member.tier_rank:
        return None
    return TierChange(
        at=scheduled_at,
        cause=cause,
        previous_tier=_ref(settings, member.tier_rank),
        new_tier=_ref(settings, new_rank),
        vip_tiers=member.vip_tiers,
        q_points=q_points,
        run=RunRef(job=job, scheduled_at=scheduled_at),
        member_version=member.version + 1,
    )


def ran_since(member: Member, scheduled_at: datetime) -> bool:
    """Whether a tier run scheduled after `scheduled_at` changed the member already."""
    return any(at > scheduled_at for at in member.tier_marks.values())


def late_upgrade(
    program: Program, member: Member, changes: list[TierChange], scheduled_at: datetime, q_points: int
) -> TierChange | None:
    """A missed upgrade run replayed after a later tier run changed the member: the change it
    would have made on time, as an entry of the history at its instant (None: none).

    It judges the tier the member held at its instant (from `changes`, the member's tier
    history) against the Q points valid then. It is written only when what happened since
    agrees with it: no downgrade run since, and no later change leaves the member below the
    tier it gives (upgrades only raise, so the member's tier now stands, and the history says
    from when it held the tier). Otherwise the later decisions stand, as `decide_run` says. A
    replay of the same run finds its entry and writes nothing."""
    settings = program.tier_settings
    if settings is None:
        return None
    if any(
        c.run is not None and c.run == RunRef(job="tier-upgrade", scheduled_at=scheduled_at) for c in changes
    ):
        return None
    rank_then, vip_then = tiers_at(changes, member.tier_rank, member.vip_tiers, scheduled_at)
    new_rank = upgrade_rank(settings, rank_then, q_points)
    if new_rank is None or new_rank == rank_then:
        return None
    for later in (c for c in changes if c.at > scheduled_at and c.cause not in VIP_CAUSES):
        if later.cause == "downgrade_run" or (later.new_tier.rank if later.new_tier else 0) < new_rank:
            return None  # a VIP change keeps the standard tier: it does not count here
    return TierChange(
        at=scheduled_at,
        cause="upgrade_run",
        previous_tier=_ref(settings, rank_then),
        new_tier=_ref(settings, new_rank),
        vip_tiers=vip_then,
        q_points=q_points,
        run=RunRef(job="tier-upgrade", scheduled_at=scheduled_at),
        member_version=member.version + 1,
    )


def apply_late(member: Member, change: TierChange) -> Member:
    """The member after a late upgrade's entry: its tiers, marks and kept run changes as they are
    (the later runs set them; a retry of one of those needs its own change), its version + 1
    (the entry's key). A retry of the late run after a crash before its entry finds no entry in
    the history and writes it once, under the next version."""
    return member.model_copy(update={"version": change.member_version})


def apply_change(member: Member, change: TierChange) -> Member:
    """The member after a change (version + 1; a run's mark and last change kept for retries)."""
    update: dict[str, object] = {
        "tier_rank": change.new_tier.rank if change.new_tier else None,
        "vip_tiers": change.vip_tiers,
        "version": change.member_version,
        "tier_changed_at": max(filter(None, (member.tier_changed_at, change.at))),
    }
    if change.run is not None:
        update["tier_marks"] = {**member.tier_marks, change.run.job: change.run.scheduled_at}
        update["run_changes"] = {**member.run_changes, change.run.job: change}
    return member.model_copy(update=update)


def vip_change(
    program: Program, member: Member, vip_tier: str, *, grant: bool, reason: str | None, now: datetime
) -> TierChange | None:
    """Grant or remove a VIP tier (None: the member already is in that state)."""
    held = vip_tier in member.vip_tiers
    if held == grant:
        return None
    vip_tiers = (
        sorted({*member.vip_tiers, vip_tier}) if grant else [v for v in member.vip_tiers if v != vip_tier]
    )
    settings = program.tier_settings
    return TierChange(
        at=now,
        cause="vip_grant" if grant else "vip_remove",
        previous_tier=_ref(settings, member.tier_rank),
        new_tier=_ref(settings, member.tier_rank),
        vip_tier=vip_tier,
        vip_tiers=vip_tiers,
        reason=reason,
        q_points=valid_q_points(member.lots, now),
        member_version=member.version + 1,
    )
