"""Use cases: enrol members, read a member with balances, page through the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, InvalidRequest
from loyalty_engine.kernel.idempotency import StoredAnswer, fingerprint, key_required
from loyalty_engine.kernel.records import answer_attrs, answer_from
from loyalty_engine.points.cardcodes import generate_card_code
from loyalty_engine.points.changes import member_not_found
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.ledger import LedgerEntry
from loyalty_engine.points.member_store import MemberStore, MemberWrite, NewRecord, RecordExists, StaleMember
from loyalty_engine.points.members import (
    EnrolRequest,
    Member,
    MemberView,
    check_subscribed_at,
    initial_tier,
    member_view,
)
from loyalty_engine.points.programs import Program

ENROL_SK = "ENROL"
GENERATION_ATTEMPTS = 5


def _replay_card(stored: StoredAnswer | None, fp: str, card_code: str) -> tuple[int, dict[str, Any]]:
    """The first answer for the same enrolment; any other request for a taken card code is refused."""
    if stored is not None and stored.fingerprint == fp:
        return stored.status, stored.body
    raise Conflict(
        f"card code {card_code!r} is already enrolled",
        code="card_code_taken",
        details=[{"field": "card_code", "reason": "card_code_taken"}],
    )


def enrol(
    ctx: PointsContext, caller: Caller, program_id: str, request: EnrolRequest, idempotency_key: str | None
) -> tuple[int, dict[str, Any]]:
    """Enrol a member (201). Idempotent by card code, or by Idempotency-Key for generated codes."""
    group = caller.group_id
    fp = fingerprint("enrol", request, program=program_id)
    # Replays first: they get the first answer even if the program has changed since.
    idem_sk = None
    if request.card_code is not None:
        records = ctx.members.records(group, request.card_code, [ENROL_SK])
        if ENROL_SK in records:
            return _replay_card(answer_from(records[ENROL_SK]["answer"]), fp, request.card_code)
    elif idempotency_key:
        idem_sk = keys.idempotency_sk("enrol", idempotency_key)
        if stored := ctx.programs.get_record(group, idem_sk):
            return answer_from(stored["answer"]).replay(fp, "Idempotency-Key", idempotency_key)

    program = ctx.program(group, program_id)
    now = ctx.clock()
    if program.ends_at is not None and program.ends_at <= now:
        raise InvalidRequest("the program has ended", code="program_not_active")
    check_subscribed_at(request.subscribed_at, now)
    if request.card_code is None and program.card_codes.generation == "manual":
        raise InvalidRequest(
            "this program's card codes are imported: card_code is required",
            code="card_code_required",
            details=[{"field": "card_code", "reason": "required"}],
        )
    if request.card_code is None and idem_sk is None:
        raise key_required("Idempotency-Key", location="header")

    for _ in range(GENERATION_ATTEMPTS):
        card_code = request.card_code or generate_card_code(program.card_codes)
        member, answer = _enrolment(program, card_code, request, fp, now)
        enrolment: dict[str, Any] = {"answer": answer_attrs(answer)}
        if idem_sk:
            enrolment["idempotency_sk"] = idem_sk  # where the group keeps this answer (an erasure blanks it)
        write = MemberWrite(member=member, new_records=[NewRecord(ENROL_SK, "enrolment", enrolment)])
        if idem_sk:
            write.group_records.append(NewRecord(idem_sk, "idempotency", {"answer": answer_attrs(answer)}))
        try:
            ctx.members.commit(group, write, expected_version=None)
            return answer.status, answer.body
        except RecordExists as exists:  # the same Idempotency-Key won a race
            stored = ctx.programs.get_record(group, exists.sk)
            if stored:
                return answer_from(stored["answer"]).replay(fp, "Idempotency-Key", idempotency_key or "")
        except StaleMember:  # the card code exists already
            if request.card_code is None:
                continue  # a generated code collided: draw another
            records = ctx.members.records(group, card_code, [ENROL_SK])
            stored_answer = answer_from(records[ENROL_SK]["answer"]) if ENROL_SK in records else None
            return _replay_card(stored_answer, fp, card_code)
    raise ConcurrentUpdate("could not allocate a card code; retry")


def _enrolment(
    program: Program, card_code: str, request: EnrolRequest, fp: str, now: datetime
) -> tuple[Member, StoredAnswer]:
    """The member an enrolment creates and the answer it stores (the API's and a file's)."""
    member = Member(
        card_code=card_code,
        program_id=program.program_id,
        customer_ref=request.customer_ref,
        subscribed_at=request.subscribed_at or now,
        created_at=now,
        tier_rank=initial_tier(program),
    )
    body = member_view(member, program, now).model_dump(mode="json")
    return member, StoredAnswer(fingerprint=fp, status=201, body=body)


ImportedEnrolment = Literal["applied", "unchanged"]


def enrol_imported(
    members: MemberStore, group: str, program: Program, request: EnrolRequest, *, source: str, now: datetime
) -> ImportedEnrolment:
    """Enrol a member from an import line (`source`: the line, `import:<id>:<line>`), as the API's
    enrolment with its card code does: the same member, the same enrolment record (so that the
    API and the file replay each other). `applied` when the line enrolled the card (also when a
    replay of the same line finds it did), `unchanged` when the card was already enrolled with
    the same values; raises Conflict (`card_not_in_program`, `card_code_taken`) or
    InvalidRequest (`program_not_active`)."""
    assert request.card_code is not None
    check_subscribed_at(request.subscribed_at, now)  # the line's own problem, whatever is stored
    fp = fingerprint("enrol", request, program=program.program_id)
    records = members.records(group, request.card_code, [ENROL_SK])
    if ENROL_SK in records:
        return _imported_outcome(records[ENROL_SK], fp, source, program.program_id)
    if program.ends_at is not None and program.ends_at <= now:
        raise InvalidRequest("the program has ended", code="program_not_active")
    member, answer = _enrolment(program, request.card_code, request, fp, now)
    record = NewRecord(ENROL_SK, "enrolment", {"answer": answer_attrs(answer), "source": source})
    try:
        members.commit(group, MemberWrite(member=member, new_records=[record]), expected_version=None)
        return "applied"
    except (StaleMember, RecordExists):  # enrolled meanwhile (the API, or a record without member)
        records = members.records(group, request.card_code, [ENROL_SK])
        if ENROL_SK not in records:
            raise Conflict(
                f"card code {request.card_code!r} is already enrolled", code="card_code_taken"
            ) from None
        return _imported_outcome(records[ENROL_SK], fp, source, program.program_id)


def _imported_outcome(record: dict[str, Any], fp: str, source: str, program_id: str) -> ImportedEnrolment:
    if record.get("source") == source:
        return "applied"  # this very line, applied by an attempt that did not finish its chunk
    stored = answer_from(record["answer"])
    if stored.fingerprint == fp:
        return "unchanged"
    if stored.body.get("program_id") != program_id:
        raise Conflict(
            f"card {stored.body.get('card_code')!r} is enrolled in program {stored.body.get('program_id')!r}",
            code="card_not_in_program",
        )
    raise Conflict("the card is already enrolled with other values", code="card_code_taken")


def get_member(ctx: PointsContext, caller: Caller, card_code: str) -> MemberView:
    member, _ = ctx.members.load(caller.group_id, card_code, [])
    if member is None:
        raise member_not_found(card_code)
    program = ctx.program(caller.group_id, member.program_id)
    return member_view(member, program, ctx.clock())


def ledger_page(
    ctx: PointsContext, caller: Caller, card_code: str, limit: int, cursor: str | None
) -> tuple[list[LedgerEntry], str | None]:
    if not ctx.members.programs_of(caller.group_id, [card_code]):
        raise member_not_found(card_code)
    return ctx.members.ledger_page(caller.group_id, card_code, limit, cursor)
