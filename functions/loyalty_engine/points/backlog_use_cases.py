"""Use case: apply a till's backlog, item by item, each exactly once under its own key."""

from __future__ import annotations

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel.errors import DomainError
from loyalty_engine.points.backlog import (
    BacklogRequest,
    BacklogResult,
    ItemResult,
    OrderItem,
    ReturnItem,
    application_order,
)
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.point_use_cases import burn, earn, return_order


def apply_backlog(ctx: PointsContext, caller: Caller, request: BacklogRequest) -> BacklogResult:
    """Every item answered as its own route would answer it (a refusal is that item's answer,
    and changes nothing); a replayed backlog gets every item's first answer."""
    results: dict[int, ItemResult] = {}
    for index in application_order(request.items):
        item = request.items[index]
        try:
            if isinstance(item, OrderItem):
                status, body = earn(ctx, caller, item.card_code, item.order)
            elif isinstance(item, ReturnItem):
                status, body = return_order(ctx, caller, item.card_code, item.order_id, item.request, None)
            else:
                status, body = burn(ctx, caller, item.card_code, item.request, None)
        except DomainError as error:
            status, body = error.status, error.to_body()
        results[index] = ItemResult(
            index=index, type=item.type, card_code=item.card_code, status=status, body=body
        )
    ordered = [results[index] for index in range(len(request.items))]
    applied = sum(1 for result in ordered if result.status < 300)
    return BacklogResult(results=ordered, applied=applied, refused=len(ordered) - applied)
