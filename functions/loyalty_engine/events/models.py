"""The domain events: a common envelope and one pydantic model per kind.

Every event is the `detail` of an EventBridge entry whose `detail-type` is its `kind` and whose
`source` is `loyalty-engine`. `event_id` is derived from the changed item's keys (never random):
the same change delivered again has the same id, and consumers dedupe on it. Points and counts
are ints; money is in cents (int), never a float.
"""

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from loyalty_engine.events.kinds import KINDS
from loyalty_engine.kernel.model import DeferredModel

SOURCE = "loyalty-engine"
BUS_ENV = "EVENT_BUS_NAME"  # carries the bus's name to the publisher


def bus_name(stage: str) -> str:
    """The stage's custom event bus (`loyalty-engine-local` on the local stack)."""
    return f"{SOURCE}-{stage}"


class TierRef(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int
    name: str


class DomainEvent(DeferredModel):
    """The envelope every event shares."""

    # Every field is in every event put on the bus: the schemas say so (`required`).
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)

    event_id: str = Field(description="Stable across redeliveries of the same change: dedupe on it")
    kind: str = Field(description="The event kind, also the EventBridge `detail-type`")
    group: str = Field(description="The loyalty group (tenant) the change belongs to")
    occurred_at: datetime = Field(description="When the change took effect (UTC)")
    recorded_at: datetime = Field(
        description="When the table recorded the change (UTC, the stream record's time)"
    )


# ------------------------------------------------------------------ members and points


class MemberEnrolled(DomainEvent):
    kind: Literal["member.enrolled"] = "member.enrolled"
    card_code: str
    program_id: str
    customer_ref: str | None = None
    subscribed_at: datetime


class PointsChange(DomainEvent):
    """One ledger entry: signed NQ/Q changes and the balances after it."""

    card_code: str
    entry_id: str = Field(description="The ledger entry (as in GET /v1/members/{card_code}/ledger)")
    entry_kind: str = Field(description="The ledger entry's kind (earn, burn, payment, return, ...)")
    reference: str | None = Field(default=None, description="Order, burn, payment, return or adjustment id")
    nq: int = Field(description="Signed change of NQ points")
    q: int = Field(description="Signed change of Q points")
    nq_balance: int = Field(description="NQ points after the change")
    q_balance: int = Field(description="Q points after the change")


class PointsEarned(PointsChange):
    kind: Literal["points.earned"] = "points.earned"
    not_credited: int = Field(default=0, description="NQ points refused by the program's maximum balance")


class PointsBurned(PointsChange):
    kind: Literal["points.burned"] = "points.burned"


class PointsReturned(PointsChange):
    kind: Literal["points.returned"] = "points.returned"
    unrecovered: int = Field(default=0, description="Points a return could not take back (already spent)")


class PointsAdjusted(PointsChange):
    kind: Literal["points.adjusted"] = "points.adjusted"


class PointsExpired(PointsChange):
    kind: Literal["points.expired"] = "points.expired"


class PointsExpiringSoon(DomainEvent):
    kind: Literal["points.expiring_soon"] = "points.expiring_soon"
    card_code: str
    lot_id: str
    point_kind: Literal["nq", "q"]
    points: int = Field(description="Points of the lot that will expire")
    expires_at: datetime


# ------------------------------------------------------------------ tiers


class TierChanged(DomainEvent):
    card_code: str
    previous_tier: TierRef | None = None
    new_tier: TierRef | None = None
    vip_tiers: list[str] = Field(default_factory=list, description="The member's VIP tiers after the change")
    q_points: int = Field(description="Valid Q points seen when deciding")


class TierUpgraded(TierChanged):
    kind: Literal["tier.upgraded"] = "tier.upgraded"


class TierDowngraded(TierChanged):
    kind: Literal["tier.downgraded"] = "tier.downgraded"


class VipChanged(TierChanged):
    vip_tier: str = Field(description="The VIP tier granted or removed")
    reason: str | None = None
    source: str | None = Field(default=None, description="`api` or `import`")
    import_line: str | None = Field(default=None, description="`import:<import id>:<line>` for an import")


class VipGranted(VipChanged):
    kind: Literal["vip.granted"] = "vip.granted"


class VipRemoved(VipChanged):
    kind: Literal["vip.removed"] = "vip.removed"


# ------------------------------------------------------------------ rewards


class RewardAttributed(DomainEvent):
    kind: Literal["reward.attributed"] = "reward.attributed"
    attribution_id: str
    reward_id: str
    card_code: str
    program_id: str
    quantity: int
    nqp_spent: int
    valid_from: datetime
    valid_until: datetime
    source: str = Field(description="`api:<idempotency key>` or `import:<import id>:<line>`")


class RewardBurned(DomainEvent):
    kind: Literal["reward.burned"] = "reward.burned"
    attribution_id: str
    reward_id: str
    card_code: str
    quantity: int = Field(description="Units this burn used")
    burned: int = Field(description="Units of the attribution burned after this burn")
    remaining: int = Field(description="Units left after this burn")
    source: str = Field(description="`api:<idempotency key>` or `import:<import id>:<line>`")
    store_id: str | None = None


# ------------------------------------------------------------------ imports


class ImportCounts(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lines_total: int | None = None
    lines_read: int = 0
    applied: int = 0
    skipped: int = 0
    unchanged: int = 0


class ReportLocation(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str
    summary_key: str
    skipped_key: str
    attributions_key: str | None = Field(
        default=None, description="An earnreward file's attribution ids of ours (CSV), once applied"
    )


class ImportFinished(DomainEvent):
    import_id: str
    file_name: str
    scope: str | None = None
    counts: ImportCounts
    report: ReportLocation | None = None


class ImportCompleted(ImportFinished):
    kind: Literal["import.completed"] = "import.completed"


class ImportRejected(ImportFinished):
    kind: Literal["import.rejected"] = "import.rejected"
    state: Literal["rejected", "failed", "duplicate"]
    code: str | None = Field(default=None, description="The rejection's reason code")
    message: str | None = None
    duplicate_of: str | None = Field(default=None, description="`duplicate`: the import these bytes repeat")


# ------------------------------------------------------------------ instruments


class InstrumentIssued(DomainEvent):
    kind: Literal["instrument.issued"] = "instrument.issued"
    number: str
    series_id: str
    instrument_kind: str = Field(description="gift_card or coupon")
    batch_id: str | None = None
    balance_cents: int | None = None
    valid_until: datetime | None = None


class InstrumentMovement(DomainEvent):
    """One entry of an instrument's ledger; money in cents."""

    number: str
    entry_no: int
    reference: str = Field(description="The activation, redemption, reversal, return or cancellation id")
    amount_cents: int = Field(description="Signed change of the balance, in cents (0 for coupons)")
    balance_after_cents: int | None = None
    status_after: str
    merchant_id: str | None = None
    store_id: str | None = None


class InstrumentActivated(InstrumentMovement):
    kind: Literal["instrument.activated"] = "instrument.activated"


class InstrumentRedeemed(InstrumentMovement):
    kind: Literal["instrument.redeemed"] = "instrument.redeemed"


class InstrumentReversed(InstrumentMovement):
    kind: Literal["instrument.reversed"] = "instrument.reversed"
    reverses: str | None = Field(default=None, description="The redemption this reversal refunds")


class InstrumentCancelled(InstrumentMovement):
    kind: Literal["instrument.cancelled"] = "instrument.cancelled"
    reason: str | None = None


class StoreCreditIssued(InstrumentMovement):
    kind: Literal["store_credit.issued"] = "store_credit.issued"


class BatchReady(DomainEvent):
    kind: Literal["batch.ready"] = "batch.ready"
    batch_id: str
    series_id: str
    count: int
    issued: int
    export_key: str | None = Field(default=None, description="The CSV export's key in the exports bucket")


EVENT_MODELS: tuple[type[DomainEvent], ...] = (
    MemberEnrolled,
    PointsEarned,
    PointsBurned,
    PointsReturned,
    PointsAdjusted,
    PointsExpired,
    PointsExpiringSoon,
    TierUpgraded,
    TierDowngraded,
    VipGranted,
    VipRemoved,
    RewardAttributed,
    RewardBurned,
    ImportCompleted,
    ImportRejected,
    InstrumentIssued,
    InstrumentActivated,
    InstrumentRedeemed,
    InstrumentReversed,
    InstrumentCancelled,
    StoreCreditIssued,
    BatchReady,
)


def kind_of(model: type[DomainEvent]) -> str:
    return str(model.model_fields["kind"].default)


MODELS_BY_KIND: dict[str, type[DomainEvent]] = {kind_of(model): model for model in EVENT_MODELS}
if tuple(MODELS_BY_KIND) != KINDS:  # pragma: no cover - a model added without its kind's name
    raise RuntimeError(f"events.kinds.KINDS must list {tuple(MODELS_BY_KIND)}")
