"""Export everything held about a customer or a member card (one answer, paged reads inside),
and erase their personal data, idempotently: names, e-mail, phone and free text blanked, lookup
items removed, while the ledger, lots and balances stay under the card code and customer id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar

from loyalty_engine.access.models import Caller
from loyalty_engine.audit.records import AuditRecord
from loyalty_engine.audit.store import AuditStore
from loyalty_engine.audit.use_cases import BEGINNING
from loyalty_engine.customers.models import Customer, CustomerView
from loyalty_engine.customers.store import CustomerStore
from loyalty_engine.customers.use_cases import customer_not_found
from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, NotFound
from loyalty_engine.kernel.retry import RACE, attempts
from loyalty_engine.kernel.timeutil import END_OF_TIME
from loyalty_engine.points.changes import member_not_found
from loyalty_engine.points.ledger import LedgerEntry
from loyalty_engine.points.member_store import MemberStore
from loyalty_engine.points.members import member_view
from loyalty_engine.points.programs import Program
from loyalty_engine.privacy.models import InstrumentData, MemberData, MemberErasure, PrivacyExport
from loyalty_engine.privacy.store import PrivacyStore, StaleSubject
from loyalty_engine.rewards.models import Attribution
from loyalty_engine.rewards.store import RewardStore

PAGE = 200
MAX_ATTEMPTS = 10
# An API answer goes through Lambda (6 MB) and API Gateway (10 MB): an export above this is refused.
MAX_EXPORT_BYTES = 5_000_000


class PrivacyContext(Protocol):
    @property
    def members(self) -> MemberStore: ...
    @property
    def rewards(self) -> RewardStore: ...
    @property
    def customers(self) -> CustomerStore: ...
    @property
    def privacy(self) -> PrivacyStore: ...
    @property
    def audit(self) -> AuditStore: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...

    def program(self, group: str, program_id: str) -> Program: ...


# Exports


def export_customer(ctx: PrivacyContext, caller: Caller, customer_id: str) -> PrivacyExport:
    group = caller.group_id
    found = ctx.customers.customer(group, customer_id)
    if found is None:
        raise customer_not_found(customer_id)
    customer, links = found
    members = [_member_data(ctx, group, card) for card in links.card_codes]
    objects = [f"customers/{customer_id}"] + [f"members/{card}" for card in links.card_codes]
    return _sized(
        PrivacyExport(
            subject="customer",
            exported_at=ctx.clock(),
            customer=customer,
            links=links,
            members=[m for m in members if m is not None],
            instruments=[_instrument_data(ctx, group, number) for number in links.instruments],
            audit=_audit(ctx, group, objects),
        )
    )


def export_member(ctx: PrivacyContext, caller: Caller, card_code: str) -> PrivacyExport:
    group = caller.group_id
    data = _member_data(ctx, group, card_code)
    if data is None:
        raise member_not_found(card_code)
    found = ctx.customers.customer(group, data.customer_id) if data.customer_id else None
    customer, links = found if found else (None, None)
    return _sized(
        PrivacyExport(
            subject="member",
            exported_at=ctx.clock(),
            customer=customer,
            links=links,
            members=[data],
            instruments=[_instrument_data(ctx, group, n) for n in (links.instruments if links else [])],
            audit=_audit(ctx, group, [f"members/{card_code}"]),
        )
    )


def _sized(export: PrivacyExport) -> PrivacyExport:
    if len(export.model_dump_json()) > MAX_EXPORT_BYTES:
        raise Conflict(
            f"the export is larger than {MAX_EXPORT_BYTES} bytes, more than one API answer can carry",
            code="export_too_large",
        )
    return export


T = TypeVar("T")


def _every_page(read: Callable[[str | None], tuple[list[T], str | None]]) -> list[T]:
    """Every item of a paged read: `read(cursor)` answers a page and the next cursor (None: the last)."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page, cursor = read(cursor)
        items += page
        if cursor is None:
            return items


def _member_data(ctx: PrivacyContext, group: str, card_code: str) -> MemberData | None:
    member, _ = ctx.members.load(group, card_code, [])
    if member is None:
        return None
    program = ctx.program(group, member.program_id)
    ledger: list[LedgerEntry] = _every_page(lambda c: ctx.members.ledger_page(group, card_code, PAGE, c))
    rewards: list[Attribution] = _every_page(
        lambda c: ctx.rewards.member_attribution_page(group, card_code, PAGE, c)
    )
    return MemberData(
        member=member_view(member, program, ctx.clock()),
        erased_at=member.erased_at,
        customer_id=ctx.privacy.customer_card_link(group, card_code),
        lots=member.lots,
        ledger=ledger,
        tier_history=ctx.members.tier_changes(group, card_code),
        rewards=rewards,
        adjustment_comments=ctx.privacy.adjustment_comments(group, card_code),
    )


def _instrument_data(ctx: PrivacyContext, group: str, number: str) -> InstrumentData:
    return InstrumentData(
        instrument=ctx.privacy.instrument(group, number) or {"number": number},
        ledger=ctx.privacy.instrument_ledger(group, number),
    )


def _audit(ctx: PrivacyContext, group: str, objects: list[str]) -> list[AuditRecord]:
    def about(audit_object: str) -> Callable[[str | None], tuple[list[AuditRecord], str | None]]:
        return lambda cursor: ctx.audit.page(
            group,
            start=BEGINNING,
            end=END_OF_TIME,
            key_id=None,
            audit_object=audit_object,
            limit=PAGE,
            cursor=cursor,
        )

    records = [record for audit_object in objects for record in _every_page(about(audit_object))]
    return sorted(records, key=lambda record: (record.at, record.request_id), reverse=True)


# Erasure


def erase_member(ctx: PrivacyContext, caller: Caller, card_code: str) -> MemberErasure:
    """Blank the card's free text and customer reference and take it out of the search; the
    ledger, lots and balances stay. Idempotent: again, it changes nothing and answers the same."""
    group = caller.group_id
    for _ in attempts(MAX_ATTEMPTS, RACE):
        member, _records = ctx.members.load(group, card_code, [])
        if member is None:
            raise member_not_found(card_code)
        erased_at = member.erased_at or ctx.clock()
        # the records first, the member last (under the version read): a change made meanwhile
        # (an adjustment, a VIP grant) moves the version, and the next attempt blanks it too
        blanked = ctx.privacy.blank_member_records(group, card_code)
        if member.erased_at is not None and member.customer_ref is None and not blanked:
            return MemberErasure(card_code=card_code, erased_at=member.erased_at)  # nothing left to do
        try:
            ctx.privacy.mark_member_erased(group, card_code, member.version, erased_at.isoformat())
        except StaleSubject:
            continue
        return MemberErasure(card_code=card_code, erased_at=erased_at)
    raise ConcurrentUpdate("too many concurrent changes to this member; retry")


def erase_customer(ctx: PrivacyContext, caller: Caller, customer_id: str) -> CustomerView:
    """Erase every card of the customer and blank its instruments' cancellation reasons, then
    blank the customer's name, e-mail and phone and take it out of the search (the customer
    last: a retry after a failure finishes the job). Idempotent: an erased customer is answered
    as it is (its cards and instruments are blanked again, in case a change raced the first)."""
    group = caller.group_id
    for _ in attempts(MAX_ATTEMPTS, RACE):
        found = ctx.customers.customer(group, customer_id)
        if found is None:
            raise customer_not_found(customer_id)
        previous, links = found
        for card in links.card_codes:
            try:
                erase_member(ctx, caller, card)
            except NotFound:
                continue  # a link to a card that no longer exists holds nothing to erase
        for number in links.instruments:
            ctx.privacy.blank_instrument_free_text(group, number)
        if previous.erased:
            return CustomerView(**previous.model_dump(), links=links)
        now = ctx.clock()
        erased = Customer(
            customer_id=customer_id,
            customer_groups=previous.customer_groups,
            created_at=previous.created_at,
            updated_at=now,
            version=previous.version + 1,
            erased=True,
            erased_at=now,
        )
        try:
            ctx.privacy.put_erased_customer(group, erased, previous)
        except StaleSubject:
            continue
        return CustomerView(**erased.model_dump(), links=links)
    raise ConcurrentUpdate("too many concurrent changes to this customer; retry")
