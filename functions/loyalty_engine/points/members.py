"""Members: enrolment, the member's lots, tier and VIP tiers, and the balances view."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import OneLine
from loyalty_engine.points import ledger
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import PointsSummary
from loyalty_engine.points.programs import Program
from loyalty_engine.points.tier_history import TierChange


class EnrolRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    card_code: str | None = Field(
        default=None, pattern=CARD_CODE_PATTERN, description="Imported card code; generated when absent"
    )
    customer_ref: OneLine | None = Field(default=None, min_length=1, max_length=128)
    subscribed_at: UtcDatetime | None = Field(
        default=None,
        description="Defaults to now; from 1900-01-01T00:00:00Z to a day after now (else subscribed_at_out_of_range)",
    )


# A subscription date outside these bounds is a mistake (a year 1 or 9999 placeholder, a typo),
# not a member: 1900 is before any card scheme; a day ahead leaves room for a partner's clock and
# time zone. The API's enrolment and a member file line refuse it (docs/decisions.md).
SUBSCRIBED_AT_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
SUBSCRIBED_AT_AHEAD = timedelta(days=1)


def check_subscribed_at(subscribed_at: datetime | None, now: datetime) -> None:
    """Raises InvalidRequest (`subscribed_at_out_of_range`) for a date before 1900 or more than a
    day after `now` (the request's time, or the import's start)."""
    if subscribed_at is None:
        return
    if SUBSCRIBED_AT_EARLIEST <= subscribed_at <= now + SUBSCRIBED_AT_AHEAD:
        return
    raise InvalidRequest(
        "subscribed_at must be from 1900-01-01T00:00:00Z to a day after now",
        code="subscribed_at_out_of_range",
        details=[{"field": "subscribed_at", "reason": "out_of_range"}],
    )


class Member(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    card_code: str
    program_id: str
    customer_ref: str | None = None
    subscribed_at: datetime
    created_at: datetime
    tier_rank: int | None = None
    vip_tiers: list[str] = Field(default_factory=list)
    # The live lots, read with the member: they are stored beside the member item, not on it
    # (see `points.lots`); a member read from an index carries the summary only.
    lots: list[Lot] = Field(default_factory=list, exclude=True)
    # Where each lot read with the member is stored (`points.lots.slot_key` → its chunk): a
    # write keeps a lot in its chunk and rewrites only the chunks that changed.
    lot_slots: dict[str, str] = Field(default_factory=dict, exclude=True)
    points: PointsSummary = PointsSummary()
    version: int = 0
    # Scheduled tier runs, per job: the scheduled time of the last run that changed the
    # member, and that change (a retried run re-writes its history entry from it).
    tier_marks: dict[str, datetime] = Field(default_factory=dict)
    run_changes: dict[str, TierChange] = Field(default_factory=dict)
    # When the latest change of tier or VIP tiers took effect: an order placed before it earns
    # with the tiers of its own time, read from the tier history (None: never changed).
    tier_changed_at: datetime | None = None
    # The customer groups of the card's customer (`customers` keeps this copy in sync when the
    # card is linked or the customer's groups change), for the customer-group earning rules.
    customer_groups: list[str] = Field(default_factory=list)
    # When the member's personal data (its customer reference, the free text about it) was
    # erased (`privacy`); None: never.
    erased_at: datetime | None = None

    def multipliers(self, program: Program) -> tuple[Decimal, Decimal]:
        """(NQ, Q) multipliers: the larger of the standard tier's and the VIP tiers'."""
        nq, q = Decimal(1), Decimal(1)
        if program.tier_settings is not None:
            tier = program.tier_settings.tier(self.tier_rank)
            if tier is not None:
                nq, q = tier.effective_nq_multiplier, tier.effective_q_multiplier
        for name in self.vip_tiers:
            vip = program.vip(name)
            if vip is not None:
                nq, q = max(nq, vip.nq_multiplier), max(q, vip.q_multiplier)
        return nq, q


def initial_tier(program: Program) -> int | None:
    """A new member enters the highest tier that needs no Q points (usually tier 1)."""
    if program.tier_settings is None:
        return None
    free = [tier.rank for tier in program.tier_settings.tiers if tier.entry_threshold == 0]
    return max(free) if free else None


class Expiry(DeferredModel):
    points: int
    at: datetime


class NQBalance(DeferredModel):
    available: int = Field(description="Spendable now")
    pending: int = Field(description="Credited, still in the holding period")
    next_expiry: Expiry | None = None


class QBalance(DeferredModel):
    valid: int = Field(description="Q points that count for tiers now")
    pending: int


class TierView(DeferredModel):
    rank: int
    name: str


class Balances(DeferredModel):
    nq: NQBalance
    q: QBalance


class MemberView(DeferredModel):
    card_code: str
    program_id: str
    customer_ref: str | None
    subscribed_at: datetime
    tier: TierView | None
    vip_tiers: list[str]
    customer_groups: list[str] = Field(
        default_factory=list,
        description="The customer groups of the card's customer (earning rules may target them)",
    )
    balances: Balances
    erased_at: datetime | None = Field(
        default=None,
        description="When the card's personal data was erased (docs/privacy.md); null: it was not",
    )


def balances(lots: list[Lot], now: datetime) -> Balances:
    upcoming = sorted(
        (lot for lot in lots if lot.kind == "nq" and lot.expires_at is not None and not lot.is_expired(now)),
        key=lambda lot: lot.expires_at or now,
    )
    next_expiry = None
    if upcoming:
        at = upcoming[0].expires_at
        assert at is not None
        next_expiry = Expiry(points=sum(lot.points for lot in upcoming if lot.expires_at == at), at=at)
    return Balances(
        nq=NQBalance(
            available=ledger.available(lots, "nq", now),
            pending=ledger.pending(lots, "nq", now),
            next_expiry=next_expiry,
        ),
        q=QBalance(valid=ledger.available(lots, "q", now), pending=ledger.pending(lots, "q", now)),
    )


def member_view(member: Member, program: Program, now: datetime) -> MemberView:
    tier = None
    if program.tier_settings is not None:
        standard = program.tier_settings.tier(member.tier_rank)
        if standard is not None:
            tier = TierView(rank=standard.rank, name=standard.name)
    return MemberView(
        card_code=member.card_code,
        program_id=member.program_id,
        customer_ref=member.customer_ref,
        subscribed_at=member.subscribed_at,
        tier=tier,
        vip_tiers=member.vip_tiers,
        customer_groups=member.customer_groups,
        balances=balances(member.lots, now),
        erased_at=member.erased_at,
    )
