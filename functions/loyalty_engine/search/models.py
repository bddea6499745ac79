"""What a member search answers: one line per member card, with its customer where linked."""

from typing import Literal

from pydantic import ConfigDict, Field

from loyalty_engine.kernel.model import DeferredModel

SearchFilter = Literal["email", "card_prefix", "customer_id"]
FILTERS: tuple[SearchFilter, ...] = ("email", "card_prefix", "customer_id")


class MatchTier(DeferredModel):
    rank: int
    name: str


class MemberMatch(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    card_code: str
    program_id: str
    tier: MatchTier | None = Field(description="The standard tier (null in a simple program)")
    vip_tiers: list[str]
    nq_points: int = Field(
        description="NQ points held, pending included (GET /v1/members/{card_code} splits them)"
    )
    q_points: int = Field(description="Q points held, pending included")
    customer_id: str | None = Field(description="The linked customer's external id; null when not linked")
    name: str | None = Field(description="The linked customer's first and last name")
    email: str | None = Field(description="The linked customer's e-mail")


class MemberSearchPage(DeferredModel):
    items: list[MemberMatch] = Field(
        description="By card code (card_prefix, customer_id), by customer then card code (email)"
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
