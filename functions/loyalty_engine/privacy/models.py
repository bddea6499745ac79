"""What an export holds and what an erasure answers."""

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from loyalty_engine.audit.records import AuditRecord
from loyalty_engine.customers.models import Customer, CustomerLinks
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.ledger import LedgerEntry, Lot
from loyalty_engine.points.members import MemberView
from loyalty_engine.points.tier_history import TierChange
from loyalty_engine.rewards.models import Attribution


class MemberData(DeferredModel):
    """One member card and everything held in its name."""

    member: MemberView
    erased_at: datetime | None = Field(description="When the card's personal data was erased; null: never")
    customer_id: str | None = Field(description="The customer the card is linked to")
    lots: list[Lot] = Field(
        description="The live lots: points left in each, with their availability and expiry"
    )
    ledger: list[LedgerEntry] = Field(description="Every ledger entry, newest first")
    tier_history: list[TierChange] = Field(description="Every tier change, in the order they happened")
    rewards: list[Attribution] = Field(description="The rewards attributed to the card, newest first")
    adjustment_comments: dict[str, str] = Field(
        description="The comments of its customer service adjustments, by Idempotency-Key (the ledger's `reference`)"
    )


class InstrumentData(DeferredModel):
    """A gift card, store credit or coupon linked to the customer, and its movements."""

    instrument: dict[str, Any] = Field(description="As `GET /v1/instruments/{number}` reads it")
    ledger: list[dict[str, Any]] = Field(description="Its movements, newest first")


class PrivacyExport(DeferredModel):
    """Everything the engine holds about a customer (and its cards) or a member card."""

    subject: Literal["customer", "member"]
    exported_at: datetime
    customer: Customer | None = Field(description="The customer (the card's customer for a member export)")
    links: CustomerLinks | None = Field(description="The customer's cards and instruments")
    members: list[MemberData]
    instruments: list[InstrumentData]
    audit: list[AuditRecord] = Field(
        description="The audit log's records of writes to the customer and its cards, newest first"
    )


class MemberErasure(DeferredModel):
    card_code: str
    erased: bool = True
    erased_at: datetime = Field(description="When the card's personal data was first erased")


# subject_request: the person asked (GDPR art. 17); retention_expired: the tenant's retention
# period for inactive customers ended; other: anything else (the audit log keeps the code).
ErasureReason = Literal["subject_request", "retention_expired", "other"]


class ErasureRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: ErasureReason = Field(description="Why: shown in the audit log's summary of the erasure")
