"""Scheduled runs: start a run (one message per member shard), work through a shard page by
page with a checkpoint, and close the run when every shard is done.

Idempotency per (program, job, scheduled time):
- the run item is created once; a duplicate start re-queues only the shards not done;
- a shard's checkpoint is written after each page, conditional on the page count, so a
  redelivered message resumes where the last worker stopped and two workers never both
  move one shard on;
- each member's write is conditional on its version, and decided as of the scheduled
  time: a tier run marks the members it changed (a retried page leaves them alone), an
  expiry finds nothing left to expire, a reconciliation only reads;
- the run is closed (and its metrics counted) by one conditional write.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from loyalty_engine.kernel.pacing import WritePacer, write_units
from loyalty_engine.kernel.parallel import in_parallel
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.points import ledger
from loyalty_engine.points.changes import finished, settled
from loyalty_engine.points.expiry_notices import may_have_notices, notices_due
from loyalty_engine.points.lots import exact_valid_q
from loyalty_engine.points.member_store import MemberWrite, RecordExists, StaleMember, member_item
from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program
from loyalty_engine.points.tier_counts import TierTally, add, tally
from loyalty_engine.points.tier_history import TierChange
from loyalty_engine.tiers.as_of import in_force, late_upgrade_of
from loyalty_engine.tiers.context import JobServices
from loyalty_engine.tiers.jobs import (
    JobRequest,
    RunSummary,
    ShardMessage,
    ShardProgress,
    future_refusal,
    job_calendar,
    skip_reason,
)
from loyalty_engine.tiers.rules import (
    apply_change,
    apply_late,
    decide_run,
    valid_q_points,
)

logger = logging.getLogger(__name__)
TIME_MARGIN_MS = 90_000  # a page takes seconds; stop well before the function's timeout
MEMBER_ATTEMPTS = 10
# A tier or expiry run decides and writes this many of a page's members at once (each member's
# write is its own, conditioned on its version): the page waits for about 1/MEMBER_WRITERS of its writes.
MEMBER_WRITERS = 16
# Every member of a shard has the same gsi1 partition key, and each member written is copied
# there (gsi1 projects the whole item): a page's writes are paced to this many write units a
# second, under the 1,000 a partition takes, so that a run in which most members change does
# not throttle its own index (a run in which 15 % change is far below it).
SHARD_INDEX_WCU_S = 900


@dataclass
class PageCounts:
    changed: int = 0
    drift: int = 0
    retried: int = 0
    tiers: dict[str, int] = field(default_factory=dict)  # reconciliation: members by tier rank
    vip_tiers: dict[str, int] = field(default_factory=dict)  # and by VIP tier


def start_run(services: JobServices, request: JobRequest, *, manual: bool = False) -> RunSummary:
    """Create the run and queue its shards (or, without a queue, run them here)."""
    program = services.programs.get_program(request.group, request.program_id, consistent=True)
    now = services.clock()
    base = {
        "group": request.group,
        "program_id": request.program_id,
        "job": request.job,
        "scheduled_at": request.scheduled_at,
        "started_at": now,
    }
    if reason := skip_reason(request, program, manual=manual):
        logger.warning("run skipped", extra={"run": request.run_id, "reason": reason})
        return RunSummary(**base, state="skipped", reason=reason)
    shards = list(range(MEMBER_SHARDS))
    if not services.jobs.create_run(request, RunSummary(**base, state="running")):
        summary, progress = services.jobs.run_items(request)
        if summary is not None and summary.state == "completed":
            return summary
        shards = [shard for shard in shards if not (shard in progress and progress[shard].done)]
        if not shards:  # every shard is done but the run was not closed (its closer died): close it
            _close_if_done(services, request)
    messages = [ShardMessage(**request.model_dump(), shard=shard) for shard in shards]
    if services.queue is None:
        for message in messages:
            work_shard(services, message, lambda: math.inf)
    else:
        services.queue.send_all([message.model_dump(mode="json") for message in messages])
    summary, _ = services.jobs.run_items(request)
    assert summary is not None
    return summary


def run_now(services: JobServices, request: JobRequest) -> RunSummary:
    """An operator's run "as of" any instant up to now, all shards in this process.

    An instant in the future is refused (`run_in_future`), nothing written: a dry run
    (`previews.preview_run`) says what the run would do.
    """
    if refusal := future_refusal(request, services.clock()):
        raise refusal
    inline = JobServices(
        services.programs, services.members, services.jobs, None, services.clock, services.on_finished
    )
    return start_run(inline, request, manual=True)


def work_shard(services: JobServices, message: ShardMessage, remaining_ms: Callable[[], float]) -> None:
    """Work through one shard from its checkpoint; queue a continuation when time runs short."""
    program = services.programs.get_program(message.group, message.program_id, consistent=True)
    judged = in_force(services, program, message)
    progress = services.jobs.shard_progress(message, message.shard)
    if progress is None:
        progress = ShardProgress(shard=message.shard, updated_at=services.clock())
        if not services.jobs.save_progress(message, progress, expected_pages=None):
            progress = services.jobs.shard_progress(message, message.shard)
            assert progress is not None
    calendar = job_calendar(message.job, program) if program is not None else None
    previous_run = calendar.last_before(message.scheduled_at) if calendar is not None else None
    while not progress.done:
        if remaining_ms() < TIME_MARGIN_MS:
            if services.queue is None:
                raise RuntimeError("out of time with nowhere to queue the continuation")
            services.queue.send(message.model_dump(mode="json"))
            return
        members, next_cursor = (
            services.jobs.members_page(message.group, message.program_id, message.shard, progress.cursor)
            if program is not None
            else ([], None)
        )
        counts = _page(services, judged, message, members, previous_run) if judged else PageCounts()
        moved = progress.model_copy(
            update={
                "cursor": next_cursor,
                "pages": progress.pages + 1,
                "done": next_cursor is None,
                "members": progress.members + len(members),
                "changed": progress.changed + counts.changed,
                "drift": progress.drift + counts.drift,
                "retried": progress.retried + counts.retried,
                "tiers": add(progress.tiers, counts.tiers),
                "vip_tiers": add(progress.vip_tiers, counts.vip_tiers),
                "updated_at": services.clock(),
            }
        )
        if not services.jobs.save_progress(message, moved, expected_pages=progress.pages):
            logger.warning(
                "another worker moved the shard on", extra={"run": message.run_id, "shard": message.shard}
            )
            return
        progress = moved
    _close_if_done(services, message)


def _close_if_done(services: JobServices, request: JobRequest) -> None:
    summary, shards = services.jobs.run_items(request)
    if summary is None or summary.state != "running":
        return
    if len(shards) < MEMBER_SHARDS or not all(progress.done for progress in shards.values()):
        return
    closed = summary.model_copy(
        update={
            "state": "completed",
            "completed_at": services.clock(),
            "shards_done": len(shards),
            "members": sum(p.members for p in shards.values()),
            "changed": sum(p.changed for p in shards.values()),
            "drift": sum(p.drift for p in shards.values()),
            "retried": sum(p.retried for p in shards.values()),
            "tiers": _sum(p.tiers for p in shards.values()),
            "vip_tiers": _sum(p.vip_tiers for p in shards.values()),
        }
    )
    if closed.job == "reconcile":
        # It read every member: the program's members per tier as of its time. Kept before the
        # run is closed, so that a closer that dies in between leaves it written (idempotent).
        counted = TierTally(
            as_of=closed.scheduled_at,
            members=closed.members,
            by_rank=closed.tiers,
            by_vip_tier=closed.vip_tiers,
        )
        services.programs.put_tier_tally(closed.group, closed.program_id, counted)
    if services.jobs.complete_run(request, closed) and services.on_finished is not None:
        services.on_finished(closed)


def _sum(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for more in counts:
        total = add(total, more)
    return total


def _page(
    services: JobServices,
    program: Program,
    message: ShardMessage,
    members: list[Member],
    previous_run: datetime | None,
) -> PageCounts:
    counts = PageCounts()
    if message.job in ("tier-upgrade", "tier-downgrade"):
        pacer = WritePacer(SHARD_INDEX_WCU_S)

        def decide(member: Member) -> tuple[TierChange | None, PageCounts]:
            mine = PageCounts()
            return _tier_member(services, program, message, member, previous_run, mine, pacer), mine

        history: list[tuple[str, TierChange]] = []
        for member, (change, mine) in zip(members, in_parallel(decide, members, MEMBER_WRITERS), strict=True):
            counts.changed, counts.retried = counts.changed + mine.changed, counts.retried + mine.retried
            if change is not None:
                history.append((member.card_code, change))
        services.jobs.put_history(message.group, history)
    elif message.job == "expire-points":
        pacer = WritePacer(SHARD_INDEX_WCU_S)

        def expire(member: Member) -> PageCounts:
            mine = PageCounts()
            loaded = _expire_member(services, message, member, mine, pacer)
            _notice_member(services, program, message, member, loaded)
            return mine

        for mine in in_parallel(expire, members, MEMBER_WRITERS):
            counts.changed, counts.retried = counts.changed + mine.changed, counts.retried + mine.retried
    else:

        def check(member: Member) -> int:
            mine = PageCounts()
            _reconcile_member(services, message, member, mine)
            return mine.drift

        counts.drift += sum(in_parallel(check, members, MEMBER_WRITERS))  # reads only: nothing to pace
        by_rank, by_vip = tally(members)
        counts.tiers, counts.vip_tiers = dict(by_rank), dict(by_vip)
    return counts


def _reload(services: JobServices, group: str, card_code: str) -> Member | None:
    member, _ = services.members.load(group, card_code, [])
    return member


def _tier_member(
    services: JobServices,
    program: Program,
    message: ShardMessage,
    member: Member | None,
    previous_run: datetime | None,
    counts: PageCounts,
    pacer: WritePacer | None = None,
) -> TierChange | None:
    """The history entry to write for this member: its change by this run, now or by an earlier try
    (its write paced by `pacer`: the shard's index partition)."""
    for _ in range(MEMBER_ATTEMPTS):
        if member is None:
            return None
        q_points = valid_q_at(services, message.group, member, message.scheduled_at)
        change = decide_run(program, member, message.job, message.scheduled_at, previous_run, q_points)
        if change is None:
            done = member.run_changes.get(message.job)
            # An earlier try of this run changed the member: write its entry again (same key),
            # and count it (that try's count was lost with its page's checkpoint).
            if done is not None and done.run is not None and done.run.scheduled_at == message.scheduled_at:
                counts.changed += 1
                return done
            change = late_upgrade_of(services, program, message, member, q_points)
            if change is None:
                return None
            changed = apply_late(member, change)
        else:
            changed = apply_change(member, change)
        if pacer is not None:
            pacer.spend(write_units([member_item(message.group, changed)]))
        try:
            services.jobs.put_member(message.group, changed, expected_version=member.version)
        except StaleMember:  # gsi1 lags, or the member changed since the page was read
            counts.retried += 1
            member = _reload(services, message.group, member.card_code)
            continue
        counts.changed += 1
        return change
    raise StaleMember()


def _expire_member(
    services: JobServices,
    message: ShardMessage,
    member: Member | None,
    counts: PageCounts,
    pacer: WritePacer | None = None,
) -> Member | None:
    """Expire what is due; the member with its lots as they are now if it was read (else None).
    Its write is paced by `pacer` (the member's copy in the shard's index partition)."""
    at = message.scheduled_at
    for _ in range(MEMBER_ATTEMPTS):
        if member is None or not has_expired(member, at):
            return None
        full, _ = services.members.load(message.group, member.card_code, [])
        if full is None:
            return None
        current, start = settled(full, at)
        if not start.expired:
            return full  # the summary's next expiry was an early bound: nothing expired
        write = finished(
            MemberWrite(member=current.model_copy(update={"version": full.version + 1})), start, at
        )
        if pacer is not None:
            pacer.spend(write_units([member_item(message.group, write.member)]))
        try:
            services.members.commit(message.group, write, expected_version=full.version)
        except (StaleMember, RecordExists):
            counts.retried += 1
            member = _reload(services, message.group, member.card_code)
            continue
        counts.changed += 1
        return write.member
    raise StaleMember()


def _notice_member(
    services: JobServices, program: Program, message: ShardMessage, member: Member, loaded: Member | None
) -> None:
    """The lots expiring within the program's notice period, noticed once each (points.expiring_soon).
    `loaded`: the member with its lots, if the expiry read it already (no second read)."""
    days, at = program.expiry_notice_days, message.scheduled_at
    if not may_have_notices(member.points, at, days):
        return
    full = loaded if loaded is not None else services.members.load(message.group, member.card_code, [])[0]
    if full is not None:
        services.jobs.put_expiry_notices(message.group, member.card_code, notices_due(full.lots, at, days))


def has_expired(member: Member, at: datetime) -> bool:
    """Whether some of the member's live lots may have expired by `at` (from its summary)."""
    summary = member.points
    return any(
        kind.live > 0 and kind.next_expiry_at is not None and kind.next_expiry_at <= at
        for kind in (summary.nq, summary.q)
    )


def valid_q_at(services: JobServices, group: str, member: Member, at: datetime) -> int:
    """The member's valid Q points at `at` (a run's instant): from its summary when that tells,
    else from its lots (and the Q history, for an instant before lots left for it)."""
    exact = exact_valid_q(member.points, at)
    if exact is not None:
        return exact
    full, _ = services.members.load(group, member.card_code, [])
    lots = full.lots if full is not None else []
    expired_until = member.points.expired_until
    if expired_until is not None and at < expired_until:
        lots = [*lots, *services.members.q_history(group, member.card_code, at)]
    return valid_q_points(lots, at)


def _reconcile_member(
    services: JobServices, message: ShardMessage, member: Member, counts: PageCounts
) -> None:
    """Balance = sum of the ledger, checked twice before calling it drift (a write may fall between)."""
    for attempt in range(2):
        current, nq, q, entries = services.jobs.ledger_sums(message.group, member.card_code)
        if current is None:
            return
        have_nq, have_q = ledger.balance(current.lots, "nq"), ledger.balance(current.lots, "q")
        if (have_nq, have_q) == (nq, q):
            return
        if attempt:
            counts.drift += 1
            logger.error(
                "balance drift",
                extra={
                    "card_code": member.card_code,
                    "program_id": message.program_id,
                    "nq_balance": have_nq,
                    "nq_ledger": nq,
                    "q_balance": have_q,
                    "q_ledger": q,
                    "entries": entries,
                },
            )
