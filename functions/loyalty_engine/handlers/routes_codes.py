"""Routes of a reward's loaded codes (admin keys): load codes into its stock, look at the stock."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BeforeValidator, Field

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.kernel.types import unpadded
from loyalty_engine.rewards import code_use_cases
from loyalty_engine.rewards.codes import CodePage, LoadCodesRequest, LoadResult
from loyalty_engine.rewards.models import EXTERNAL_ID_PATTERN

RewardId = Annotated[
    str,
    Field(pattern=EXTERNAL_ID_PATTERN),
    BeforeValidator(unpadded),
    Path(description="The master reward's external_id"),
]


def add_codes_routes(app: APIGatewayRestResolver) -> None:
    @app.post("/v1/rewards/<external_id>/codes", responses=responses(200), tags=["rewards"])
    def load_reward_codes(external_id: RewardId, request: Annotated[LoadCodesRequest, Body()]) -> LoadResult:
        """Add codes to the stock of a reward with `codes=loaded`, handed out in this order after
        the codes loaded before. Idempotent per code: a code loaded already is not added again
        (retrying a call is safe). Loading more codes refills an exhausted stock."""
        return code_use_cases.load_codes(default_context().rewards, caller_of(app), external_id, request)

    @app.get("/v1/rewards/<external_id>/codes", responses=responses(200), tags=["rewards"])
    def list_reward_codes(
        external_id: RewardId,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=600, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> CodePage:
        """The stock of loaded codes (loaded, handed out, left) and a page of the codes still to
        be handed out, in the order they will go."""
        return code_use_cases.list_codes(
            default_context().rewards, caller_of(app), external_id, limit, cursor
        )
