"""Member search (admin keys): `GET /v1/members` with exactly one of `email`, `card_prefix`,
`customer_id`. The group is the calling key's; a cursor carries only a position in that group's
lookup partition (or customer), so it can never lead into another group's members."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BeforeValidator, Field

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.kernel.types import SLUG_PATTERN, plain_int
from loyalty_engine.search.models import MemberSearchPage

if TYPE_CHECKING:
    from loyalty_engine.search.store import SearchStore

Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


def add_search_routes(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/members", responses=responses(200), tags=["members"])
    def search_members(
        email: Annotated[
            str | None,
            Query(
                min_length=3,
                max_length=254,
                pattern=r"^\s*[^@\s]+@[^@\s]+\s*$",
                description="The linked customer's e-mail (any case)",
            ),
        ] = None,
        card_prefix: Annotated[
            str | None,
            Query(
                pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$",
                description="The first characters of the card code (case-sensitive)",
            ),
        ] = None,
        customer_id: Annotated[
            str | None, Query(pattern=SLUG_PATTERN, description="The linked customer's external id")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MemberSearchPage:
        """Members found by exactly one filter, a page at a time: each card with its program,
        tier, points held and linked customer. Read from lookup items written with the members and
        customers (never a scan): at most 4 DynamoDB requests a page for a card prefix or a
        customer id; an e-mail adds one read per customer holding it. An erased customer is
        found by none of them."""
        from loyalty_engine.search.use_cases import one_filter
        from loyalty_engine.search.use_cases import search_members as search  # off the cold path

        by, value = one_filter({"email": email, "card_prefix": card_prefix, "customer_id": customer_id})
        return search(search_store(), default_context().program, caller_of(app), by, value, limit, cursor)


@cache
def search_store() -> SearchStore:
    from loyalty_engine.search.store import SearchStore

    return SearchStore(client(), load(ApiSettings).table_name)
