"""Customer service adjustments of a member's NQ or Q points: the request, its reason codes and
the answer (`POST /v1/members/{card_code}/adjustments`). The ledger rule is `ledger.adjust`."""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictInt, field_validator

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.points.ledger import PointKind

# goodwill: a gesture (a complaint, a late delivery); correction: points the engine should
# have given or taken (a missed order, a wrong rule); fraud: points taken back from abuse;
# migration: balances brought over from a previous system; other: anything else (say why).
ReasonCode = Literal["goodwill", "correction", "fraud", "migration", "other"]
COMMENT_MAX = 500
MAX_POINTS = 100_000_000


class AdjustmentRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    kind: PointKind = Field(description="`nq`: the program's currency; `q`: the points that place tiers")
    points: Annotated[StrictInt, Field(ge=-MAX_POINTS, le=MAX_POINTS)] = Field(
        description="Signed, non-zero: added (+) or taken back (-)"
    )
    reason_code: ReasonCode
    comment: str = Field(
        default="",
        max_length=COMMENT_MAX,
        description="Free text for the next agent; required (not blank) with the reason `other`",
    )

    @field_validator("points")
    @classmethod
    def _not_zero(cls, points: int) -> int:
        if points == 0:
            raise ValueError("points must not be zero")
        return points


class AdjustmentBalance(DeferredModel):
    nq: int = Field(description="NQ points held after the adjustment (pending included)")
    q: int = Field(description="Q points held after the adjustment (pending included)")


class AdjustmentResult(DeferredModel):
    adjustment_id: str = Field(description="The ledger entry's id")
    card_code: str
    kind: PointKind
    points: int = Field(description="As requested")
    reason_code: ReasonCode
    comment: str
    not_credited: int = Field(default=0, description="NQ points refused by the program's maximum balance")
    balance: AdjustmentBalance
