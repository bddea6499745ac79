"""The audit log's route (admin keys): the group's recorded writes, newest first.

The group is the calling key's; a cursor carries only a position (a sort key) in that group's
log, so it can never lead into another group's records.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AfterValidator, BeforeValidator, Field

from loyalty_engine.audit.records import AUDIT_OBJECT_PATTERN, AuditPage
from loyalty_engine.audit.use_cases import audit_page
from loyalty_engine.handlers.audit_trail import audit_services
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import plain_int, unpadded

Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


def add_audit_routes(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/audit", responses=responses(200), tags=["audit"])
    def list_audit(
        audit_object: Annotated[
            str | None,
            AfterValidator(unpadded),
            Query(
                alias="object",
                pattern=AUDIT_OBJECT_PATTERN,
                max_length=200,
                description="Only what was done to this object, e.g. `members/2990000000017`, "
                "`rewards/café crème` (any id its route takes)",
            ),
        ] = None,
        key_id: Annotated[
            str | None, Query(pattern=r"^[0-9A-Z]{26}$", description="Only the writes of this key")
        ] = None,
        start: Annotated[
            UtcDatetime | None, Query(alias="from", description="From this time (included)")
        ] = None,
        end: Annotated[
            UtcDatetime | None, Query(alias="to", description="Up to this time (included)")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        """Writes made with the group's admin and partner keys on both APIs (refused ones too,
        with their status), newest first: one Query per page."""
        store, _ = audit_services()
        return audit_page(
            store,
            caller_of(app),
            start=start,
            end=end,
            key_id=key_id,
            audit_object=audit_object,
            limit=limit,
            cursor=cursor,
        )
