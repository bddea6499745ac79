"""Privacy routes (admin keys): export everything held about a customer or a member card, and
erase their personal data. The group is the calling key's; another group's customer or card
answers 404. Erasures are writes of an admin key, so the audit log records them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from loyalty_engine.customers.models import CustomerView
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.audit_trail import audit_services
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.kernel.types import SLUG_PATTERN
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.privacy.models import ErasureRequest, MemberErasure, PrivacyExport

if TYPE_CHECKING:
    from loyalty_engine.audit.store import AuditStore
    from loyalty_engine.customers.store import CustomerStore
    from loyalty_engine.points.member_store import MemberStore
    from loyalty_engine.points.programs import Program
    from loyalty_engine.privacy.store import PrivacyStore
    from loyalty_engine.rewards.store import RewardStore

CardCode = Annotated[
    str, Path(pattern=CARD_CODE_PATTERN, description="Card code, unique in the loyalty group")
]
CustomerId = Annotated[str, Path(pattern=SLUG_PATTERN, description="The customer's external id")]


@dataclass
class PrivacyServices:
    members: MemberStore
    rewards: RewardStore
    customers: CustomerStore
    privacy: PrivacyStore
    audit: AuditStore
    clock: Callable[[], datetime]
    program: Callable[[str, str], Program]


def privacy_services() -> PrivacyServices:
    ctx = default_context()
    customers, privacy = _stores()
    return PrivacyServices(
        members=ctx.members,
        rewards=ctx.rewards,
        customers=customers,
        privacy=privacy,
        audit=audit_services()[0],
        clock=ctx.clock,
        program=ctx.program,
    )


@cache
def _stores() -> tuple[CustomerStore, PrivacyStore]:
    from loyalty_engine.customers.store import CustomerStore
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.kernel.settings import ApiSettings, load
    from loyalty_engine.privacy.store import PrivacyStore

    table = load(ApiSettings).table_name
    return CustomerStore(client(), table), PrivacyStore(client(), table)


def add_privacy_routes(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/customers/<customer_id>/export", responses=responses(200), tags=["privacy"])
    def export_customer(customer_id: CustomerId) -> PrivacyExport:
        """Everything held about a customer, in one JSON answer: the customer, its links, each
        linked card (member, balances, lots, the whole ledger, tier history, rewards, adjustment
        comments), its instruments and their movements, and the audit records about them."""
        from loyalty_engine.privacy import use_cases  # off the cold path

        return use_cases.export_customer(privacy_services(), caller_of(app), customer_id)

    @app.get("/v1/members/<card_code>/export", responses=responses(200), tags=["privacy"])
    def export_member(card_code: CardCode) -> PrivacyExport:
        """Everything held about a member card, in one JSON answer (its customer and the
        customer's instruments included when the card is linked to one)."""
        from loyalty_engine.privacy import use_cases

        return use_cases.export_member(privacy_services(), caller_of(app), card_code)

    @app.post("/v1/customers/<customer_id>/erasure", responses=responses(200), tags=["privacy"])
    def erase_customer(customer_id: CustomerId, request: Annotated[ErasureRequest, Body()]) -> CustomerView:
        """Erase a customer's personal data (idempotent): name, e-mail and phone blanked, the
        free text of its cards blanked, the customer and its cards taken out of the member
        search; balances, lots and the ledger stay under the card codes and the customer id.
        Answers the erased customer (`erased: true`); a later `PUT` of it is refused. The body's
        `reason_code` is kept by the audit log."""
        from loyalty_engine.privacy import use_cases

        return use_cases.erase_customer(privacy_services(), caller_of(app), customer_id)

    @app.post("/v1/members/<card_code>/erasure", responses=responses(200), tags=["privacy"])
    def erase_member(card_code: CardCode, request: Annotated[ErasureRequest, Body()]) -> MemberErasure:
        """Erase a member card's personal data (idempotent): its customer reference and the
        free text about it (adjustment comments, VIP reasons) blanked, the card taken out of
        the member search; balances, lots and the ledger stay. Its customer, if any, is erased
        by the customer's route."""
        from loyalty_engine.privacy import use_cases

        return use_cases.erase_member(privacy_services(), caller_of(app), card_code)
