"""List routes of the points API's collections (programs), a page at a time in id order.

The group is the calling key's; a cursor carries only a position in that group's partition.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BeforeValidator, Field

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.kernel.types import plain_int
from loyalty_engine.points import program_use_cases as programs
from loyalty_engine.points.programs import ProgramPage

Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


def add_lists_routes(app: APIGatewayRestResolver) -> None:
    @app.get("/v1/programs", responses=responses(200), tags=["programs"])
    def list_programs(limit: Limit = 50, cursor: Cursor = None) -> ProgramPage:
        """The group's programs, by program id, a page at a time."""
        return programs.list_programs(default_context(), caller_of(app), limit, cursor)
