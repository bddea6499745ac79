"""Customer service routes (admin keys): adjust a member's points by hand, the member's
timeline, and its live lots with their expiry. The group is the calling key's; another group's card answers 404."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from pydantic import BeforeValidator, Field

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, json_response, responses
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.kernel.types import plain_int
from loyalty_engine.points.adjustments import AdjustmentRequest, AdjustmentResult
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.points.member_lots import LotPage
from loyalty_engine.timeline.models import TimelinePage
from loyalty_engine.timeline.store import TimelineStore

CardCode = Annotated[
    str, Path(pattern=CARD_CODE_PATTERN, description="Card code, unique in the loyalty group")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=NATURAL_KEY_PATTERN,
        description="Required: the same key and body again answer the first answer, and change nothing",
    ),
]


def add_customer_service_routes(app: APIGatewayRestResolver) -> None:
    @app.post(
        "/v1/members/<card_code>/adjustments", status_code=201, responses=responses(200, 201), tags=["points"]
    )
    def adjust_points(
        card_code: CardCode,
        request: Annotated[AdjustmentRequest, Body()],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AdjustmentResult]:
        """Add (+) or take back (-) NQ or Q points by hand, with a reason code and a comment: a
        ledger entry of kind `adjustment`. A credit is available at once and expires after the
        program's validity of its kind; a debit takes available points (soonest-expiring first),
        then pending ones, and never takes the balance below zero (409 `insufficient_points`)."""
        from loyalty_engine.points.adjustment_use_cases import adjust  # off the cold path

        status, body = adjust(default_context(), caller_of(app), card_code, request, idempotency_key)
        return json_response(status, body)

    @app.get("/v1/members/<card_code>/timeline", responses=responses(200), tags=["members"])
    def member_timeline(
        card_code: CardCode,
        limit: Annotated[int, Field(ge=1, le=100), BeforeValidator(plain_int), Query()] = 50,
        cursor: Annotated[str | None, Query(max_length=1700, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> TimelinePage:
        """The member's ledger entries, tier changes, rewards and the instruments of its customer,
        newest first, in one paged view (at most 7 DynamoDB requests a page)."""
        from loyalty_engine.timeline.use_cases import timeline  # off the cold path

        return timeline(timeline_store(), caller_of(app), card_code, limit, cursor)

    @app.get("/v1/members/<card_code>/lots", responses=responses(200), tags=["members"])
    def list_member_lots(
        card_code: CardCode,
        limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()] = 100,
        cursor: Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> LotPage:
        """The member's live lots (points left, not expired), soonest expiry first and the lots
        that never expire last: each with its kind, points left, what its order earned, when it
        was earned, when it is available and when it expires. One read of the member's lots
        (the same as an earn's) and at most one BatchGetItem of the page's orders."""
        from loyalty_engine.points.member_lots import member_lots  # off the cold path

        return member_lots(default_context(), caller_of(app), card_code, limit, cursor)


@cache
def timeline_store() -> TimelineStore:
    return TimelineStore(client(), load(ApiSettings).table_name)
