"""Use cases that move points: earn from an order, reverse it on a return, burn.

Each is one decision in the member's read → decide → write loop (`points.changes`): two round
trips when nothing races; a replay is answered from the stored record; a lost race reads again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import NotFound
from loyalty_engine.kernel.idempotency import StoredAnswer, fingerprint, key_required
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.records import answer_attrs, answer_from
from loyalty_engine.points import ledger
from loyalty_engine.points.changes import Answer, Decision, change_member
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.member_store import MemberWrite, NewRecord, RecordUpdate
from loyalty_engine.points.members import Member, balances
from loyalty_engine.points.orders import (
    BurnRequest,
    BurnResult,
    Earned,
    EarnResult,
    OrderRecord,
    OrderRequest,
    ReturnRequest,
    ReturnResult,
    Reversed,
    check_order,
    points_for_order,
    proportional_reversal,
    returned_amount,
)
from loyalty_engine.points.programs import Program
from loyalty_engine.points.tier_history import tiers_at


def _order_attrs(record: OrderRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"answer"}) | {"answer": answer_attrs(record.answer)}


def _order_from(attrs: dict[str, Any]) -> OrderRecord:
    return OrderRecord.model_validate({**attrs, "answer": answer_from(attrs["answer"])})


def earn(ctx: PointsContext, caller: Caller, card_code: str, request: OrderRequest) -> Answer:
    """Credit the points of an order (201), at most once per order id."""
    group = caller.group_id
    sk = keys.order_sk(request.order_id)
    fp = fingerprint("order", request, card=card_code)

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if sk in records:
            return answer_from(records[sk]["answer"]).replay(fp, "order_id", request.order_id)
        current = ctx.program(group, member.program_id)
        program, earner = _as_placed(ctx, group, member, current, request.ordered_at)
        check_order(request, program, now)
        nq, q = points_for_order(request, earner, program)
        entry_id = new_id()
        base, zone = request.ordered_at, program.time_zone  # periods count in the program's wall time
        nq_settings, q_settings = program.nq_points, program.q_points
        nq_available_at = nq_settings.holding_period.after(base, zone) if nq_settings.holding_period else base
        nq_expires_at = nq_settings.validity.after(base, zone) if nq_settings.validity else None
        q_expires_at = q_settings.validity.after(base, zone) if q_settings.validity else None
        lots, entry = ledger.credit(
            member.lots,
            entry_id=entry_id,
            at=now,
            reference=request.order_id,
            order_id=request.order_id,
            nq=nq,
            q=q,
            nq_available_at=nq_available_at,
            nq_expires_at=nq_expires_at,
            q_available_at=q_settings.holding_period.after(base, zone) if q_settings.holding_period else base,
            q_expires_at=q_expires_at,
            nq_max_balance=current.nq_points.max_balance,  # the balance is today's
            occurred_at=request.ordered_at,
        )
        # an order so old that its points have expired already
        late_lots = [lot for lot in lots if lot.lot_id == entry_id and lot.is_expired(now)]
        lots, late = ledger.expire_due(lots, now, new_id)
        result = EarnResult(
            order_id=request.order_id,
            card_code=card_code,
            earned=Earned(
                nq=entry.nq, q=entry.q, nq_not_credited=entry.not_credited, nq_available_at=nq_available_at
            ),
            balances=balances(lots, now),
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=result.model_dump(mode="json"))
        record = OrderRecord(
            **request.model_dump(),
            lot_id=entry_id,
            nq_earned=entry.nq,
            q_earned=entry.q,
            nq_expires_at=nq_expires_at,
            q_expires_at=q_expires_at,
            answer=answer,
        )
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(sk, "order", _order_attrs(record))],
            entries=[entry, *late],
            expired=late_lots,
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [sk], decide)


def _as_placed(
    ctx: PointsContext, group: str, member: Member, program: Program, ordered_at: datetime
) -> tuple[Program, Member]:
    """The program and the member's tiers as they were when the order was placed: a late order
    earns with the settings, earning rules and tier multipliers of its own time. Read only when
    something changed since (the program has versions saved after it, the member's tiers
    changed after it); an order on time costs no read. An order placed before the program was
    first saved (a backfill) earns with the program as it is."""
    if program.version > 1 and program.updated_at > ordered_at:
        program = ctx.programs.program_at(group, program.program_id, ordered_at) or program
    if member.tier_changed_at is not None and ordered_at < member.tier_changed_at:
        rank, vip_tiers = tiers_at(
            ctx.members.tier_changes(group, member.card_code), member.tier_rank, member.vip_tiers, ordered_at
        )
        member = member.model_copy(update={"tier_rank": rank, "vip_tiers": vip_tiers})
    return program, member


def return_order(
    ctx: PointsContext,
    caller: Caller,
    card_code: str,
    order_id: str,
    request: ReturnRequest,
    idempotency_key: str | None,
) -> Answer:
    """Reverse an order's points, proportionally to the returned amount (201), once per return id."""
    group = caller.group_id
    return_id = request.return_id or idempotency_key
    if not return_id:
        raise key_required("return_id")
    order_key, return_key = keys.order_sk(order_id), keys.return_sk(order_id, return_id)
    fp = fingerprint(
        "return", request.model_copy(update={"return_id": return_id}), card=card_code, order=order_id
    )

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if return_key in records:
            return answer_from(records[return_key]["answer"]).replay(fp, "return_id", return_id)
        if order_key not in records:
            raise NotFound(f"order {order_id!r} not found for this member", code="order_not_found")
        record = _order_from(records[order_key])
        amount = returned_amount(record, request)
        after = record.returned_amount + amount
        nq = proportional_reversal(record.nq_earned, record.nq_reversed, record.amount, after)
        q = proportional_reversal(record.q_earned, record.q_reversed, record.amount, after)
        own_expired = frozenset(
            kind
            for kind, expires_at in (("nq", record.nq_expires_at), ("q", record.q_expires_at))
            if expires_at is not None and expires_at <= now
        )
        lots, entry = ledger.reverse(
            member.lots,
            nq=nq,
            q=q,
            lot_id=record.lot_id,
            now=now,
            entry_id=new_id(),
            reference=f"{order_id}/{return_id}",
            own_expired=own_expired,  # type: ignore[arg-type]
        )
        result = ReturnResult(
            return_id=return_id,
            order_id=order_id,
            amount=amount,
            order_returned_amount=after,
            reversed=Reversed(nq=-entry.nq, q=-entry.q, unrecovered=entry.unrecovered),
            balances=balances(lots, now),
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=result.model_dump(mode="json"))
        updated = record.model_copy(
            update={
                "returned_amount": after,
                "nq_reversed": record.nq_reversed + nq,
                "q_reversed": record.q_reversed + q,
            }
        )
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(return_key, "return", {"answer": answer_attrs(answer)})],
            record_updates=[RecordUpdate(order_key, "order", _order_attrs(updated))],
            entries=[entry],
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [return_key, order_key], decide, needs=(order_key,))


def burn(
    ctx: PointsContext, caller: Caller, card_code: str, request: BurnRequest, idempotency_key: str | None
) -> Answer:
    """Spend available NQ points (201), soonest-expiring first, once per burn id."""
    group = caller.group_id
    burn_id = request.burn_id or idempotency_key
    if not burn_id:
        raise key_required("burn_id")
    sk = keys.burn_sk(burn_id)
    fp = fingerprint("burn", request.model_copy(update={"burn_id": burn_id}), card=card_code)

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if sk in records:
            return answer_from(records[sk]["answer"]).replay(fp, "burn_id", burn_id)
        lots, entry = ledger.burn(
            member.lots, points=request.points, now=now, entry_id=new_id(), reference=burn_id
        )
        result = BurnResult(
            burn_id=burn_id, card_code=card_code, points=request.points, balances=balances(lots, now)
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=result.model_dump(mode="json"))
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(sk, "burn", {"answer": answer_attrs(answer), "points": request.points})],
            entries=[entry],
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [sk], decide)
