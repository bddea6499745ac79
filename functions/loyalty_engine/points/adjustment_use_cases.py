"""Customer service adjustments through the member's read → decide → write loop
(`points.changes`): one ledger entry of kind `adjustment`, once per Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.idempotency import StoredAnswer, fingerprint
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.records import answer_attrs, answer_from
from loyalty_engine.points import ledger
from loyalty_engine.points.adjustments import AdjustmentBalance, AdjustmentRequest, AdjustmentResult
from loyalty_engine.points.changes import Answer, Decision, change_member
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.member_store import MemberWrite, NewRecord
from loyalty_engine.points.members import Member


def adjust(
    ctx: PointsContext,
    caller: Caller,
    card_code: str,
    request: AdjustmentRequest,
    idempotency_key: str | None,
) -> Answer:
    """Add or take back NQ or Q points by hand (201), once per Idempotency-Key: the same key
    and body again answer the first answer; the same key with another body 409."""
    if not idempotency_key:
        raise InvalidRequest(
            "an adjustment needs an Idempotency-Key header (safe retries)",
            code="idempotency_key_required",
            details=[{"in": "header", "field": "Idempotency-Key", "reason": "required"}],
        )
    group = caller.group_id
    sk = keys.adjustment_sk(idempotency_key)
    fp = fingerprint("adjustment", request, card=card_code)

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if sk in records:
            return answer_from(records[sk]["answer"]).replay(fp, "Idempotency-Key", idempotency_key)
        if (
            request.reason_code == "other" and not request.comment.strip()
        ):  # after replays: they answer as before
            raise InvalidRequest(
                "the reason `other` needs a comment that says why",
                details=[{"in": "body", "field": "comment", "reason": "comment_required"}],
            )
        program = ctx.program(group, member.program_id)
        settings = program.nq_points if request.kind == "nq" else program.q_points
        lots, entry = ledger.adjust(
            member.lots,
            kind=request.kind,
            points=request.points,
            now=now,
            entry_id=new_id(),
            reference=idempotency_key,
            reason_code=request.reason_code,
            expires_at=settings.validity.after(now, program.time_zone) if settings.validity else None,
            nq_max_balance=program.nq_points.max_balance,
        )
        result = AdjustmentResult(
            adjustment_id=entry.entry_id,
            card_code=card_code,
            kind=request.kind,
            points=request.points,
            reason_code=request.reason_code,
            comment=request.comment,
            not_credited=entry.not_credited,
            balance=AdjustmentBalance(nq=entry.nq_balance, q=entry.q_balance),
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=result.model_dump(mode="json"))
        attrs = {"answer": answer_attrs(answer), "entry_id": entry.entry_id, "comment": request.comment}
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(sk, "adjustment", attrs)],
            entries=[entry],
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [sk], decide)
