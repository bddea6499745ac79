"""List routes of the instrument API's collections (merchant groups, merchants, customer
groups, customers, a series' batches), a page at a time in id order.

The group is the calling key's; a cursor carries only a position in that group's partition.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BeforeValidator, Field

from loyalty_engine.customers import use_cases as customers
from loyalty_engine.customers.models import CustomerGroupPage, CustomerPage
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.instruments import merchant_use_cases as merchants
from loyalty_engine.instruments import series_use_cases as series
from loyalty_engine.instruments.batches import BatchPage, BatchView
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.merchants import MerchantGroupPage, MerchantPage
from loyalty_engine.kernel.settings import InstrumentSettings, load
from loyalty_engine.kernel.types import SLUG_PATTERN, plain_int

Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
Email = Annotated[
    str | None,
    Query(min_length=3, max_length=254, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$", description="An e-mail address"),
]


def add_instrument_lists_routes(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/merchant-groups", responses=responses(200), tags=["merchants"])
    def list_merchant_groups(limit: Limit = 50, cursor: Cursor = None) -> MerchantGroupPage:
        """The group's merchant groups, by merchant group id, a page at a time."""
        return merchants.list_merchant_groups(instrument_services(), caller_of(app), limit, cursor)

    @app.get("/v1/merchants", responses=responses(200), tags=["merchants"])
    def list_merchants(limit: Limit = 50, cursor: Cursor = None) -> MerchantPage:
        """The group's merchants, by merchant id, a page at a time."""
        return merchants.list_merchants(instrument_services(), caller_of(app), limit, cursor)

    @app.get("/v1/customer-groups", responses=responses(200), tags=["customers"])
    def list_customer_groups(limit: Limit = 50, cursor: Cursor = None) -> CustomerGroupPage:
        """The group's customer groups, by customer group id, a page at a time."""
        return customers.list_customer_groups(instrument_services(), caller_of(app), limit, cursor)

    @app.get("/v1/customers", responses=responses(200), tags=["customers"])
    def list_customers(limit: Limit = 50, cursor: Cursor = None, email: Email = None) -> CustomerPage:
        """The group's customers, by customer id, a page at a time (without their links: read a
        customer for its cards and instruments); with `email`, those with that e-mail (trimmed,
        any case), a customer without a card included, an erased one never."""
        return customers.list_customers(instrument_services(), caller_of(app), limit, cursor, email)

    @app.get("/v1/series/<series_id>/batches", responses=responses(200), tags=["series"])
    def list_batches(
        series_id: Annotated[str, Path(pattern=SLUG_PATTERN)], limit: Limit = 50, cursor: Cursor = None
    ) -> BatchPage:
        """A series' pre-issue batches, by batch id, a page at a time (404 `series_not_found`)."""
        found, next_cursor = series.list_batches(
            instrument_services(), caller_of(app), series_id, limit, cursor
        )
        bucket = load(InstrumentSettings).export_bucket
        return BatchPage(batches=[BatchView.of(b, bucket) for b in found], next_cursor=next_cursor)
