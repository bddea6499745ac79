"""Pay with points at a point of sale, and reverse such a payment.

A payment is one decision in the member's read → decide → write loop (`points.changes`), like a
burn: two round trips on a warm container. The merchant (the calling key's) must belong to the
program's acceptor merchant group: its groups come from a `MerchantDirectory` (the instrument
side's merchants, wired by the handler, cached per container), and the write carries a
condition on the merchant item that it still belongs to that group, so a stale cache can never
let a payment through; a refused condition reads the merchant again and decides again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.idempotency import StoredAnswer, fingerprint
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.records import answer_attrs, answer_from
from loyalty_engine.points import ledger
from loyalty_engine.points.changes import Answer, Decision, change_member
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.member_store import MemberWrite, NewRecord, RecordUpdate
from loyalty_engine.points.members import Member, balances
from loyalty_engine.points.payments import (
    PaymentRecord,
    PaymentRequest,
    PaymentResult,
    PaymentReversalRequest,
    PaymentReversalResult,
    money,
    parts_back,
    payment_settings,
    points_for_payment,
    refused,
    require_acceptor,
    reversal_amount,
    reversal_points,
    taken_from,
)


class MerchantDirectory(Protocol):
    """What a payment needs to know of merchants (implemented on the instrument side)."""

    def merchant_groups(self, group: str, merchant_id: str, *, fresh: bool = False) -> frozenset[str] | None:
        """The merchant groups of a merchant (None: no such merchant); `fresh`: not from a cache."""
        ...

    def membership_check(self, group: str, merchant_id: str, merchant_group_id: str) -> dict[str, Any]:
        """A transaction action: the merchant still belongs to the merchant group."""
        ...


def _merchant(caller: Caller) -> str:
    if not caller.merchant_id:
        raise refused("merchant_required", "paying with points needs an API key bound to a merchant")
    return caller.merchant_id


def _accepts(
    merchants: MerchantDirectory, group: str, merchant_id: str, acceptor: str, *, fresh: bool
) -> None:
    """Refuse a merchant outside the acceptor group. A cached answer that would refuse is read
    again first (the merchant may have joined the group since); one that accepts is checked by
    the write's condition."""
    groups = merchants.merchant_groups(group, merchant_id, fresh=fresh)
    if not fresh and (groups is None or acceptor not in groups):
        groups = merchants.merchant_groups(group, merchant_id, fresh=True)
    require_acceptor(merchant_id, groups, acceptor)


def _record_attrs(record: PaymentRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"answer"}) | {"answer": answer_attrs(record.answer)}


def _record_from(attrs: dict[str, Any]) -> PaymentRecord:
    return PaymentRecord.model_validate({**attrs, "answer": answer_from(attrs["answer"])})


def pay(
    ctx: PointsContext, merchants: MerchantDirectory, caller: Caller, card_code: str, request: PaymentRequest
) -> Answer:
    """Pay `amount` with NQ points (201), soonest-expiring lots first, once per payment id."""
    group = caller.group_id
    merchant_id = _merchant(caller)
    sk = keys.payment_sk(request.payment_id)
    fp = fingerprint("payment", request, card=card_code, merchant=merchant_id)
    decisions = 0

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        nonlocal decisions
        if sk in records:
            return answer_from(records[sk]["answer"]).replay(fp, "payment_id", request.payment_id)
        decisions += 1
        settings = payment_settings(ctx.program(group, member.program_id), request)
        # after a lost race or a refused merchant condition, the merchant is read again
        _accepts(merchants, group, merchant_id, settings.acceptor_merchant_group, fresh=decisions > 1)
        points = points_for_payment(request.amount, settings)
        lots, entry = ledger.burn(
            member.lots,
            points=points,
            now=now,
            entry_id=new_id(),
            reference=request.payment_id,
            kind="payment",
        )
        result = PaymentResult(
            payment_id=request.payment_id,
            card_code=card_code,
            program_id=member.program_id,
            merchant_id=merchant_id,
            amount=money(request.amount),
            currency=request.currency,
            points=points,
            balances=balances(lots, now),
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=result.model_dump(mode="json"))
        record = PaymentRecord(
            payment_id=request.payment_id,
            program_id=member.program_id,
            merchant_id=merchant_id,
            amount=money(request.amount),
            currency=request.currency,
            points=points,
            acceptor_merchant_group=settings.acceptor_merchant_group,
            taken=taken_from(entry, member.lots),
            answer=answer,
        )
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(sk, "payment", _record_attrs(record))],
            entries=[entry],
            extra_actions=[merchants.membership_check(group, merchant_id, settings.acceptor_merchant_group)],
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [sk], decide)


def reverse_payment(
    ctx: PointsContext,
    merchants: MerchantDirectory,
    caller: Caller,
    card_code: str,
    payment_id: str,
    request: PaymentReversalRequest,
) -> Answer:
    """Give back (part of) a payment's points (201), once per reversal id; never more than it spent.

    The points come back in new lots, available at once, each with the expiry of the lot it was
    taken from (latest-expiring first); points whose lot has expired meanwhile are not credited.
    Any merchant of the acceptor group the payment was made in may reverse it."""
    group = caller.group_id
    merchant_id = _merchant(caller)
    payment_key = keys.payment_sk(payment_id)
    reversal_key = keys.payment_reversal_sk(payment_id, request.reversal_id)
    fp = fingerprint("payment_reversal", request, card=card_code, payment=payment_id)
    decisions = 0

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if reversal_key in records:
            return answer_from(records[reversal_key]["answer"]).replay(fp, "reversal_id", request.reversal_id)
        if payment_key not in records:
            raise refused("payment_not_found", f"payment {payment_id!r} not found for this member")
        record = _record_from(records[payment_key])
        nonlocal decisions
        decisions += 1
        acceptor = record.acceptor_merchant_group
        _accepts(merchants, group, merchant_id, acceptor, fresh=decisions > 1)
        amount = reversal_amount(record, request)
        after = record.reversed_amount + amount
        points = reversal_points(record, after)
        parts = parts_back(record, points)
        lots, entry = ledger.refund(
            member.lots,
            parts=parts,
            now=now,
            entry_id=new_id(),
            reference=f"{payment_id}/{request.reversal_id}",
        )
        result = PaymentReversalResult(
            reversal_id=request.reversal_id,
            payment_id=payment_id,
            amount=amount,
            payment_reversed_amount=money(after),
            points=entry.nq,
            points_expired=points - entry.nq,
            balances=balances(lots, now),
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=result.model_dump(mode="json"))
        updated = record.model_copy(
            update={"reversed_amount": after, "reversed_points": record.reversed_points + points}
        )
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(reversal_key, "payment_reversal", {"answer": answer_attrs(answer)})],
            record_updates=[RecordUpdate(payment_key, "payment", _record_attrs(updated))],
            entries=[entry],
            extra_actions=[merchants.membership_check(group, merchant_id, acceptor)],
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [reversal_key, payment_key], decide, needs=(payment_key,))
