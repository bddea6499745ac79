"""A member's live lots, soonest expiry first, a page at a time
(`GET /v1/members/{card_code}/lots`, customer service).

Cost of a page: the member's read with its lots (`MemberStore.load`: one consistent Query over
`LOTS#` .. `MEMBER`, the same read an earn makes; a member with 5,000 live lots holds about
25 chunks, a few Query pages) and, when the page shows lots of orders, one BatchGetItem of
those orders' records (what each order earned, and when it was placed). Every page reads all
the lots (they are stored by month of expiry, not one item each); paging keeps the answer small.

The order is (expiry, then lots that never expire; available at; lot id; kind). The cursor is
the position of the last lot given, so a lot spent or expired between two pages moves no other
lot to another page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.changes import member_not_found
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.ledger import Lot, PointKind

CURSOR_MAX = 300
_NEVER = 2**62  # the position's expiry of a lot that never expires: after every real one


class LotView(DeferredModel):
    lot_id: str = Field(
        description="The ledger entry that credited the lot (an order's earn, an adjustment…)"
    )
    kind: PointKind = Field(description="`nq` (spendable) or `q` (qualifying, for tiers)")
    points: int = Field(description="Points still in the lot")
    earned: int | None = Field(
        description="Points its order credited to this lot; null for a lot not from an order (an "
        "adjustment, a refund) and for a lot that holds more (never-expiring lots are merged)"
    )
    earned_at: datetime = Field(
        description="When it was earned: the order's `ordered_at` for a lot from an order, else "
        "when it was credited"
    )
    available_at: datetime = Field(description="When its points can be spent (after the holding period)")
    expires_at: datetime | None = Field(description="When its points expire; null: never")
    order_id: str | None = Field(description="The order that earned it, if any")


class LotPage(DeferredModel):
    lots: list[LotView] = Field(description="Soonest expiry first; the lots that never expire last")
    total: int = Field(description="The member's live lots, in all pages")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


Position = tuple[int, int, str, str]


def position(lot: Lot) -> Position:
    expires = _NEVER if lot.expires_at is None else int(lot.expires_at.timestamp())
    return (expires, int(lot.available_at.timestamp()), lot.lot_id, lot.kind)


def _invalid() -> InvalidRequest:
    return InvalidRequest(
        "invalid cursor", code="invalid_cursor", details=[{"field": "cursor", "reason": "invalid_cursor"}]
    )


def decode(cursor: str) -> Position:
    try:
        values = json.loads(decode_cursor(cursor, prefix="[", max_length=CURSOR_MAX))
    except ValueError:
        raise _invalid() from None
    if not (
        isinstance(values, list)
        and len(values) == 4
        and all(type(v) is int and 0 <= v <= _NEVER for v in values[:2])
        and isinstance(values[2], str)
        and values[3] in ("nq", "q")
    ):
        raise _invalid()
    return values[0], values[1], values[2], values[3]


def page_of(
    lots: list[Lot], now: datetime, limit: int, cursor: str | None
) -> tuple[list[Lot], int, str | None]:
    """The page's live lots (points left, not expired at `now`) after the cursor, the count of
    all live lots, and the cursor of the next page."""
    live = sorted((lot for lot in lots if lot.points > 0 and not lot.is_expired(now)), key=position)
    after = decode(cursor) if cursor else None
    rest = live if after is None else [lot for lot in live if position(lot) > after]
    page = rest[:limit]
    next_cursor = encode_cursor(json.dumps(list(position(page[-1])))) if len(rest) > limit else None
    return page, len(live), next_cursor


def _view(lot: Lot, order: dict[str, Any] | None) -> LotView:
    earned, earned_at = None, lot.available_at
    if order is not None:
        earned_at = datetime.fromisoformat(str(order["ordered_at"])).astimezone(UTC)
        credited = int(order.get(f"{lot.kind}_earned") or 0)
        earned = credited if credited >= lot.points else None
    return LotView(
        lot_id=lot.lot_id,
        kind=lot.kind,
        points=lot.points,
        earned=earned,
        earned_at=earned_at,
        available_at=lot.available_at,
        expires_at=lot.expires_at,
        order_id=lot.order_id,
    )


def member_lots(
    ctx: PointsContext, caller: Caller, card_code: str, limit: int, cursor: str | None
) -> LotPage:
    group = caller.group_id
    after = decode(cursor) if cursor else None  # a bad cursor is refused before any read
    member, _ = ctx.members.load(group, card_code, [])
    if member is None:
        raise member_not_found(card_code)
    page, total, next_cursor = page_of(member.lots, ctx.clock(), limit, cursor if after else None)
    orders = sorted({lot.order_id for lot in page if lot.order_id})
    found = ctx.members.records(group, card_code, [keys.order_sk(o) for o in orders]) if orders else {}
    views = [_view(lot, found.get(keys.order_sk(lot.order_id)) if lot.order_id else None) for lot in page]
    return LotPage(lots=views, total=total, next_cursor=next_cursor)
