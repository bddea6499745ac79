"""A till's backlog: the orders, returns and burns a store recorded while it was offline, posted
in one call and applied one by one, in the order they happened at each member (pure models)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.points.orders import BurnRequest, OrderRequest, ReturnRequest

MAX_ITEMS = 100  # per call: about 2 seconds of writes, far inside API Gateway's 29 s

CardCode = Annotated[str, Field(pattern=CARD_CODE_PATTERN)]


class _Item(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    card_code: CardCode


class OrderItem(_Item):
    type: Literal["order"]
    order: OrderRequest

    @property
    def at(self) -> datetime:
        return self.order.ordered_at


class ReturnItem(_Item):
    type: Literal["return"]
    order_id: str = Field(pattern=NATURAL_KEY_PATTERN)
    returned_at: UtcDatetime = Field(description="When the return happened at the till (orders the backlog)")
    request: ReturnRequest = Field(description="`return_id` is required: it is the item's idempotency key")

    @model_validator(mode="after")
    def _keyed(self) -> "ReturnItem":
        if self.request.return_id is None:
            raise ValueError("request.return_id is required in a backlog")
        return self

    @property
    def at(self) -> datetime:
        return self.returned_at


class BurnItem(_Item):
    type: Literal["burn"]
    burned_at: UtcDatetime = Field(description="When the burn happened at the till (orders the backlog)")
    request: BurnRequest = Field(description="`burn_id` is required: it is the item's idempotency key")

    @model_validator(mode="after")
    def _keyed(self) -> "BurnItem":
        if self.request.burn_id is None:
            raise ValueError("request.burn_id is required in a backlog")
        return self

    @property
    def at(self) -> datetime:
        return self.burned_at


BacklogItem = Annotated[OrderItem | ReturnItem | BurnItem, Field(discriminator="type")]


class BacklogRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BacklogItem] = Field(min_length=1, max_length=MAX_ITEMS)


class ItemResult(DeferredModel):
    index: int = Field(description="The item's position in the request")
    type: Literal["order", "return", "burn"]
    card_code: str
    status: int = Field(description="The status the item's own route would have answered")
    body: dict[str, Any] = Field(description="Its answer: the result, or the error body")


class BacklogResult(DeferredModel):
    results: list[ItemResult] = Field(description="One per item, in the request's order")
    applied: int = Field(description="Items answered 2xx (replays included)")
    refused: int


def application_order(items: list[OrderItem | ReturnItem | BurnItem]) -> list[int]:
    """The items' indexes in the order they are applied: per member by the time they happened
    (ties in the request's order); members one after the other, in the order they first appear."""
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.card_code, index)
    return sorted(range(len(items)), key=lambda i: (first_seen[items[i].card_code], items[i].at, i))
