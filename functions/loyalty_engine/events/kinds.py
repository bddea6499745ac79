"""The names of the domain event kinds, without their models: what a module that only names
kinds (a webhook's subscription) imports, so that it does not build the event models.
`events.models` checks at import that its models are exactly these kinds, in this order."""

from __future__ import annotations

KINDS: tuple[str, ...] = (
    "member.enrolled",
    "points.earned",
    "points.burned",
    "points.returned",
    "points.adjusted",
    "points.expired",
    "points.expiring_soon",
    "tier.upgraded",
    "tier.downgraded",
    "vip.granted",
    "vip.removed",
    "reward.attributed",
    "reward.burned",
    "import.completed",
    "import.rejected",
    "instrument.issued",
    "instrument.activated",
    "instrument.redeemed",
    "instrument.reversed",
    "instrument.cancelled",
    "store_credit.issued",
    "batch.ready",
)
