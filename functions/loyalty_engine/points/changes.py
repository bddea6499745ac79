"""The read → decide → write loop every change of a member goes through.

Read the member with its live lots (one Query), let what expired by now leave the lots (an
`expire` entry), decide in pure domain code, and write the member, the lots that changed, the
ledger entries and the idempotency record in one transaction conditioned on the member's
version: two round trips when nothing races. A lost race reads again.

The idempotency record is not read first: its put is conditioned on its absence, so a replay
finds out when that write is refused (or when the decision refuses), then reads the record and
answers from it. A change that needs a record to decide (a return needs its order) names it
in `needs`, and it is read with the member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty_engine.kernel.errors import ConcurrentUpdate, DomainError, NotFound
from loyalty_engine.kernel.idempotency import StoredAnswer
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.retry import RACE, attempts
from loyalty_engine.points import ledger
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.lots import summarize
from loyalty_engine.points.member_store import ExtraConditionFailed, MemberWrite, RecordExists, StaleMember
from loyalty_engine.points.members import Member

MAX_ATTEMPTS = 40
Answer = tuple[int, dict[str, Any]]


@dataclass
class Decision:
    write: MemberWrite
    answer: StoredAnswer


Decide = Callable[[Member, dict[str, dict[str, Any]], datetime], "Decision | Answer"]


def member_not_found(card_code: str) -> NotFound:
    return NotFound(f"member {card_code!r} not found", code="member_not_found")


def settled(member: Member, now: datetime) -> tuple[Member, MemberWrite]:
    """The member once what expired by `now` has left its lots, and the start of a write that
    records it (the `expire` entry, the lots as read, the expired lots)."""
    expired = [lot for lot in member.lots if lot.is_expired(now) and lot.points > 0]
    lots, entries = ledger.expire_due(member.lots, now, new_id)
    write = MemberWrite(
        member=member, lots_before=member.lots, lot_slots=member.lot_slots, expired=expired, entries=entries
    )
    return member.model_copy(update={"lots": lots}), write


def finished(write: MemberWrite, start: MemberWrite, now: datetime) -> MemberWrite:
    """The decided write, with the expiry that preceded it and the member's new lot summary."""
    expired = start.expired + write.expired
    lots = ledger.compact(write.member.lots, now)
    latest = max((lot.expires_at for lot in expired if lot.expires_at is not None), default=None)
    known = start.member.points.expired_until
    expired_until = max(filter(None, (latest, known)), default=None)
    write.member = write.member.model_copy(update={"lots": lots, "points": summarize(lots, expired_until)})
    write.lots_before, write.lot_slots = start.lots_before, start.lot_slots
    write.expired = expired
    write.entries = [*start.entries, *write.entries]
    return write


def change_member(
    ctx: PointsContext,
    group: str,
    card_code: str,
    record_sks: list[str],
    decide: Decide,
    *,
    needs: tuple[str, ...] = (),
    refusals: tuple[type[Exception], ...] = (),
) -> Answer:
    """Decide and write one change of a member. `record_sks`: the records the decision looks at
    (its idempotency record first), read with the member only if named in `needs`, else only when
    the write or the decision is refused (a replay); `refusals`: the write's own refusals that
    mean "decide again with the records" (besides a record that exists already)."""
    conflicts: tuple[type[Exception], ...] = (RecordExists, ExtraConditionFailed, *refusals)
    for _ in attempts(MAX_ATTEMPTS, RACE):
        member, records = ctx.members.load(group, card_code, [sk for sk in record_sks if sk in needs])
        if member is None:
            raise member_not_found(card_code)
        now = ctx.clock()
        current, start = settled(member, now)
        try:
            decision = decide(current, records, now)
        except DomainError:
            if (replay := _replay(ctx, group, card_code, record_sks, records, current, decide, now)) is None:
                raise
            return replay
        if not isinstance(decision, Decision):
            return decision
        try:
            ctx.members.commit(group, finished(decision.write, start, now), expected_version=member.version)
        except StaleMember:
            continue
        except conflicts:
            # a replay, or a condition outside the member failed: decide again on fresh reads
            if (replay := _replay(ctx, group, card_code, record_sks, records, current, decide, now)) is None:
                continue
            return replay
        return decision.answer.status, decision.answer.body
    raise ConcurrentUpdate("too many concurrent changes to this member; retry with the same key")


def _replay(
    ctx: PointsContext,
    group: str,
    card_code: str,
    record_sks: list[str],
    read: dict[str, dict[str, Any]],
    member: Member,
    decide: Decide,
    now: datetime,
) -> Answer | None:
    """The stored answer, if the change's idempotency record (the first of `record_sks`) exists
    and was not read with the member; None otherwise."""
    if not record_sks or record_sks[0] in read:
        return None
    records = ctx.members.records(group, card_code, record_sks)
    if record_sks[0] not in records:
        return None
    answer = decide(member, records, now)
    return None if isinstance(answer, Decision) else answer
