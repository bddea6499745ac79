"""Use cases: grant and remove VIP tiers, read a member's tier history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import NotFound
from loyalty_engine.kernel.idempotency import StoredAnswer
from loyalty_engine.kernel.table import TTL_ATTRIBUTE
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
    return change_vip(ctx, caller.group_id, card_code, vip_tier, grant=grant, reason=reason)


VipOutcome = Literal["applied", "unchanged"]
IMPORT_LINE_TTL_S = 400 * 86_400  # as the import's skipped lines: a file is not replayed after a year


def change_vip(
    ctx: PointsContext,
    group: str,
    card_code: str,
    vip_tier: str,
    *,
    grant: bool,
    reason: str | None,
    import_line: str | None = None,
) -> Answer:
    """Grant or remove a VIP tier, for the API or an import line; the tier history records the
    cause, the reason and the source (`api`, or `import` with the line).

    For the API (no `import_line`) the answer is the member (200), and asking for the state the
    member already has writes nothing. For an import line, the answer is `{"outcome": "applied" |
    "unchanged"}` and every line leaves a record of its outcome in the member's partition, written
    with the change: a replay of the line (a chunk cut short by a crash) answers from it, even
    when a later line changed the same tier since. Raises NotFound `vip_tier_not_found` for a tier
    the program does not have (and the member does not hold), `member_not_found`."""
    line_sk = keys.import_line_sk(import_line) if import_line else None

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if line_sk is not None and line_sk in records:
            return 200, {"outcome": records[line_sk]["outcome"]}
        program = ctx.program(group, member.program_id)
        if program.vip(vip_tier) is None and (grant or (import_line and vip_tier not in member.vip_tiers)):
            raise NotFound(
                f"program {program.program_id!r} has no VIP tier {vip_tier!r}",
                code="vip_tier_not_found",
                details=[{"field": "vip_tier", "reason": "vip_tier_not_found"}],
            )
        change = vip_change(program, member, vip_tier, grant=grant, reason=reason, now=now)
        if change is not None:
            change = change.model_copy(
                update={"source": "import" if import_line else "api", "import_line": import_line}
            )
        if change is None and line_sk is None:
            return 200, member_view(member, program, now).model_dump(mode="json")
        outcome: VipOutcome = "unchanged" if change is None else "applied"
        changed = (
            apply_change(member, change)
            if change
            else member.model_copy(update={"version": member.version + 1})
        )
        write = MemberWrite(member=changed)
        if change is not None:
            write.new_records.append(
                NewRecord(
                    keys.tier_history_sk(change.member_version),
                    "tier_change",
                    {"card_code": card_code, **change.model_dump(mode="json")},
                )
            )
        if line_sk is not None:
            expires = int(now.timestamp()) + IMPORT_LINE_TTL_S
            write.new_records.append(
                NewRecord(line_sk, "import_line", {"outcome": outcome, TTL_ATTRIBUTE: expires})
            )
            body: dict[str, Any] = {"outcome": outcome}
        else:
            body = member_view(changed, program, now).model_dump(mode="json")
        return Decision(write, StoredAnswer(fingerprint="", status=200, body=body))

    return change_member(ctx, group, card_code, [line_sk] if line_sk else [], decide)


def tier_history(
    ctx: TiersContext, caller: Caller, card_code: str, limit: int, cursor: str | None
) -> tuple[list[TierChange], str | None]:
    group = caller.group_id
    changes, next_cursor = ctx.jobs.history_page(group, card_code, limit, cursor)
    if not changes and not ctx.members.programs_of(group, [card_code]):
        raise member_not_found(card_code)
    return changes, next_cursor
