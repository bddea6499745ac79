"""Routes of a customer group's customers (the instrument API, where customers are served)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from loyalty_engine.customers import use_cases as customers
from loyalty_engine.customers.models import CustomerGroupMembers
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.kernel.types import SLUG_PATTERN

CustomerGroupId = Annotated[str, Path(pattern=SLUG_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


def add_customer_group_routes(app: APIGatewayRestResolver) -> None:
    @app.get(
        "/v1/customer-groups/<customer_group_id>/customers", responses=responses(200), tags=["customers"]
    )
    def list_customer_group_customers(
        customer_group_id: CustomerGroupId, limit: Limit = 50, cursor: Cursor = None
    ) -> CustomerGroupMembers:
        """The customers of a customer group, by customer id, a page at a time."""
        return customers.customer_group_customers(
            instrument_services(), caller_of(app), customer_group_id, limit, cursor
        )
