"""Where a member's lots are kept, and what the member item says about them (pure functions).

The lots are not on the member item: each kind's live lots are grouped in one item per month of
their expiry (`LOTS#<kind>#<YYYYMM>`, and `never` for lots that do not expire), in the member's
partition, just before the member item, so that one Query reads the member and all its live
lots. The member item stays small (a summary per kind), however many lots the member holds,
and an earn rewrites the one or two buckets its lots land in, not every lot.

Lots that expire leave the live buckets. Q lots are kept as history (`QHIST#<YYYYMM>`), as
they stood when they expired, so that a tier run decided "as of" an earlier instant still sees
the Q points that were valid then. NQ lots are not: the ledger's `expire` entries say what
expired, and nothing is ever computed from expired NQ points.

A bucket stores its lots as one JSON text of short lists (id, points, available and expires
as epoch seconds, order id): a third of the size of the same lots as maps, and one attribute
value to read and write instead of six per lot. The history, which only grows, is a list of
such texts, one per lot, so that expired lots are appended without reading it.
"""

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.ledger import Lot, PointKind

NEVER = "never"  # the bucket of lots that do not expire
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_of(lot: Lot) -> str:
    """The month (UTC) its lot expires in, `YYYYMM`; `never` for a lot that does not expire."""
    return NEVER if lot.expires_at is None else lot.expires_at.astimezone(UTC).strftime("%Y%m")


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m")


def by_bucket(lots: Iterable[Lot]) -> dict[tuple[PointKind, str], list[Lot]]:
    """Lots with points left, by (kind, bucket), each bucket in a stable order."""
    grouped: dict[tuple[PointKind, str], list[Lot]] = defaultdict(list)
    for lot in lots:
        if lot.points > 0:
            grouped[(lot.kind, bucket_of(lot))].append(lot)
    for bucket in grouped.values():
        bucket.sort(key=lambda lot: (lot.expires_at or _EPOCH, lot.available_at, lot.lot_id))
    return dict(grouped)


def _seconds(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def encode(lot: Lot) -> str:
    """One lot as a JSON text: `[id, points, available, expires, order id]` (times in epoch seconds)."""
    expires = None if lot.expires_at is None else _seconds(lot.expires_at)
    return json.dumps(
        [lot.lot_id, lot.points, _seconds(lot.available_at), expires, lot.order_id], separators=(",", ":")
    )


def encode_all(lots: Iterable[Lot]) -> str:
    return "[" + ",".join(encode(lot) for lot in lots) + "]"


def decode(kind: PointKind, value: str | list[Any]) -> Lot:
    lot_id, points, available, expires, order_id = json.loads(value) if isinstance(value, str) else value
    return Lot(
        lot_id=lot_id,
        kind=kind,
        points=points,
        available_at=_moment(available),
        expires_at=None if expires is None else _moment(expires),
        order_id=order_id,
    )


def decode_all(kind: PointKind, text: str) -> list[Lot]:
    return [decode(kind, value) for value in json.loads(text)]


class KindSummary(DeferredModel):
    """One kind's live lots, in three numbers: enough to know when they must be read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    live: int = Field(default=0, description="Points in the live lots (pending included)")
    pending_until: datetime | None = Field(default=None, description="The latest end of a holding period")
    next_expiry_at: datetime | None = Field(default=None, description="The earliest expiry among them")


class PointsSummary(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nq: KindSummary = KindSummary()
    q: KindSummary = KindSummary()
    # The latest expiry among the lots that have left the live lots (Q lots for the history):
    # a lot that expires after it is still live. None: no lot has left yet.
    expired_until: datetime | None = None


def summarize(lots: Iterable[Lot], expired_until: datetime | None) -> PointsSummary:
    """The summary of these live lots; `expired_until` as it stands after the write."""
    kinds: dict[str, KindSummary] = {}
    held = [lot for lot in lots if lot.points > 0]
    for kind in ("nq", "q"):
        mine = [lot for lot in held if lot.kind == kind]
        expiries = [lot.expires_at for lot in mine if lot.expires_at is not None]
        kinds[kind] = KindSummary(
            live=sum(lot.points for lot in mine),
            pending_until=max((lot.available_at for lot in mine), default=None),
            next_expiry_at=min(expiries, default=None),
        )
    return PointsSummary(nq=kinds["nq"], q=kinds["q"], expired_until=expired_until)


def exact_valid_q(summary: PointsSummary, at: datetime) -> int | None:
    """The Q points valid at `at`, when the summary alone tells them (None: read the lots).

    It does when at `at` every live Q lot was past its holding period and not expired, and no
    lot that expired after `at` has left for the history yet."""
    q = summary.q
    if q.live == 0 and (summary.expired_until is None or summary.expired_until <= at):
        return 0
    exact = (
        (q.pending_until is None or q.pending_until <= at)
        and (q.next_expiry_at is None or q.next_expiry_at > at)
        and (summary.expired_until is None or summary.expired_until <= at)
    )
    return q.live if exact else None
