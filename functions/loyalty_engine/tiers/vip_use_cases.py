"""Use cases: grant and remove VIP tiers, read a member's tier history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import NotFound
from loyalty_engine.kernel.idempotency import StoredAnswer
from loyalty_engine.points.changes import Answer, Decision, change_member, member_not_found
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.member_store import MemberWrite, NewRecord
from loyalty_engine.points.members import Member, member_view
from loyalty_engine.points.tier_history import TierChange
from loyalty_engine.tiers.job_store import JobStore
from loyalty_engine.tiers.rules import apply_change, vip_change


class TiersContext(PointsContext, Protocol):
    """The points port, and the tier history's store."""

    @property
    def jobs(self) -> JobStore: ...


def set_vip(
    ctx: TiersContext, caller: Caller, card_code: str, vip_tier: str, *, grant: bool, reason: str | None
) -> Answer:
    """Grant or remove a VIP tier (200 with the member). Setting the state it already has
    changes nothing and records nothing, so a retried call is harmless."""
    group = caller.group_id

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        program = ctx.program(group, member.program_id)
        if grant and program.vip(vip_tier) is None:
            raise NotFound(
                f"program {program.program_id!r} has no VIP tier {vip_tier!r}",
                code="vip_tier_not_found",
                details=[{"field": "vip_tier", "reason": "vip_tier_not_found"}],
            )
        change = vip_change(program, member, vip_tier, grant=grant, reason=reason, now=now)
        if change is None:
            return 200, member_view(member, program, now).model_dump(mode="json")
        changed = apply_change(member, change)
        body = member_view(changed, program, now).model_dump(mode="json")
        write = MemberWrite(
            member=changed,
            new_records=[
                NewRecord(
                    keys.tier_history_sk(change.member_version),
                    "tier_change",
                    {"card_code": card_code, **change.model_dump(mode="json")},
                )
            ],
        )
        return Decision(write, StoredAnswer(fingerprint="", status=200, body=body))

    return change_member(ctx, group, card_code, [], decide)


def tier_history(
    ctx: TiersContext, caller: Caller, card_code: str, limit: int, cursor: str | None
) -> tuple[list[TierChange], str | None]:
    group = caller.group_id
    changes, next_cursor = ctx.jobs.history_page(group, card_code, limit, cursor)
    if not changes and cursor is None and not ctx.members.programs_of(group, [card_code]):
        raise member_not_found(card_code)
    return changes, next_cursor
