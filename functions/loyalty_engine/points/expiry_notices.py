"""Points expiring soon: which of a member's lots the daily expiry job notices, once per lot.

A program's `expiry_notice_days` (default 30, 0: off) is how far ahead: each lot with points
left that expires within that many days after the run's instant gets one notice item, written
once (a conditional put), which the table's stream turns into a `points.expiring_soon` event.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ConfigDict

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.lots import PointsSummary

DEFAULT_NOTICE_DAYS = 30


class ExpiryNotice(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lot_id: str
    point_kind: Literal["nq", "q"]
    points: int
    expires_at: datetime
    noticed_at: datetime


def may_have_notices(summary: PointsSummary, at: datetime, days: int) -> bool:
    """Whether some live lot may expire within `days` after `at` (from the member's summary, which
    may be older than the run's expiry of the member: its next expiry is then an early bound)."""
    until = at + timedelta(days=days)
    return days > 0 and any(
        kind.live > 0 and kind.next_expiry_at is not None and kind.next_expiry_at <= until
        for kind in (summary.nq, summary.q)
    )


def notices_due(lots: Iterable[Lot], at: datetime, days: int) -> list[ExpiryNotice]:
    """A notice for each lot with points that expires in (at, at + days]."""
    if days <= 0:
        return []
    until = at + timedelta(days=days)
    return [
        ExpiryNotice(
            lot_id=lot.lot_id,
            point_kind=lot.kind,
            points=lot.points,
            expires_at=lot.expires_at,
            noticed_at=at,
        )
        for lot in lots
        if lot.points > 0 and lot.expires_at is not None and at < lot.expires_at <= until
    ]
