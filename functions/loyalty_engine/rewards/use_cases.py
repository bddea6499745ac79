"""Use cases of the reward catalog and of members' rewards: buy with NQ points, burn, list."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, IdempotencyKeyReused, NotFound
from loyalty_engine.kernel.idempotency import StoredAnswer, fingerprint, key_required
from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.records import answer_attrs, answer_from
from loyalty_engine.points import ledger
from loyalty_engine.points.changes import Answer, Decision, change_member
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.member_store import (
    MemberWrite,
    NewRecord,
)
from loyalty_engine.points.members import Member
from loyalty_engine.rewards.code_use_cases import report_exhausted
from loyalty_engine.rewards.codes import CodeSource, codes_exhausted, generate_codes
from loyalty_engine.rewards.models import (
    Attribution,
    AttributionBurnResult,
    Burn,
    BurnAttributionRequest,
    BuyRequest,
    MasterReward,
    RewardSpec,
    RewardView,
    RuleBroken,
    check_burn,
    check_buyable,
    out_of_stock,
)
from loyalty_engine.rewards.store import BurnRefused, RewardStore, Stock
from loyalty_engine.rewards.views import AttributionView

CONFLICT_CODES = frozenset({"already_burned", "insufficient_quantity", "attribution_of_other_card"})


class RewardsContext(PointsContext, Protocol):
    """The points port, and the catalog's store."""

    @property
    def rewards(self) -> RewardStore: ...


def _view(reward: MasterReward, stock: Stock) -> RewardView:
    limit = reward.limit_with(stock.loaded)
    loaded = reward.codes == CodeSource.LOADED
    return RewardView(
        **reward.model_dump(),
        attributed=stock.taken,
        remaining=None if limit is None else max(0, limit - stock.taken),
        codes_loaded=stock.loaded if loaded else None,
        codes_left=max(0, stock.loaded - stock.taken) if loaded else None,
    )


def reward_not_found(external_id: str) -> NotFound:
    return NotFound(f"reward {external_id!r} not found", code="reward_not_found")


def list_rewards(
    ctx: RewardsContext, caller: Caller, limit: int, cursor: str | None
) -> tuple[list[RewardView], str | None]:
    page, next_cursor = ctx.rewards.reward_page(caller.group_id, limit, cursor)
    return [_view(reward, stock) for reward, stock in page], next_cursor


def get_reward(ctx: RewardsContext, caller: Caller, external_id: str) -> RewardView:
    found = ctx.rewards.rewards_with_stock(caller.group_id, [external_id]).get(external_id)
    if found is None:
        raise reward_not_found(external_id)
    return _view(*found)


def put_reward(
    ctx: RewardsContext, caller: Caller, external_id: str, spec: RewardSpec
) -> tuple[int, RewardView]:
    """Create (201) or replace (200) a master reward, with the same rules as a file line."""
    found = ctx.rewards.rewards_with_stock(caller.group_id, [external_id]).get(external_id)
    if spec.codes is None and found:
        spec = spec.model_copy(update={"codes": found[0].codes})  # null keeps the stored setting
    try:
        spec.check()
    except RuleBroken as broken:
        raise broken.as_invalid_request() from None
    try:
        spec.check_codes_change(found[0] if found else None)
    except RuleBroken as broken:
        raise Conflict(broken.message, code=broken.code) from None
    now = ctx.clock()
    reward = MasterReward(
        **spec.model_dump(),
        external_id=external_id,
        created_at=found[0].created_at if found else now,
        updated_at=now,
        updated_by="api",
    )
    ctx.rewards.put_reward(caller.group_id, reward)
    return (200 if found else 201), _view(reward, found[1] if found else Stock())


def buy(
    ctx: RewardsContext, caller: Caller, card_code: str, request: BuyRequest, idempotency_key: str | None
) -> Answer:
    """Spend `nqp_value` x quantity NQ points for an attribution (201), once per Idempotency-Key.

    Refused, with nothing spent: a reward whose forced validity has ended (409 `reward_expired`),
    beyond its stock (409 `out_of_stock`; with loaded codes `reward_codes_exhausted`), beyond
    the member's available points.

    Codes: generated ones are fresh random codes; loaded ones are the next in load order
    (units taken+1 .. taken+quantity), taken only if nobody took any since the stock was read.

    One transaction: the member (points, ledger entry, idempotency record), the reward's
    stock (only if nobody took units since it was read; an unlimited reward's units are counted
    too, without that condition, so that a limit set later caps the total), and the new
    attribution. A lost race on the stock reads the reward and its stock again and decides again.
    """
    if not idempotency_key:
        raise key_required("Idempotency-Key")
    group = caller.group_id
    sk = keys.idempotency_sk("reward", idempotency_key)
    fp = fingerprint("reward_buy", request, card=card_code)

    def decide(member: Member, records: dict[str, dict[str, Any]], now: datetime) -> Decision | Answer:
        if sk in records:
            return answer_from(records[sk]["answer"]).replay(fp, "Idempotency-Key", idempotency_key)
        found = ctx.rewards.rewards_with_stock(group, [request.reward_id]).get(request.reward_id)
        if found is None:
            raise reward_not_found(request.reward_id)
        reward, stock = found
        taken = stock.taken
        now = ctx.clock()
        check_buyable(reward, now)
        limit = reward.limit_with(stock.loaded)
        if limit is not None and taken + request.quantity > limit:
            if reward.codes == CodeSource.LOADED:
                report_exhausted(reward.external_id, "api")
                raise codes_exhausted(reward.external_id)
            raise out_of_stock(reward.external_id)
        attribution_id = new_id()
        cost = reward.nqp_value * request.quantity
        lots, entries = member.lots, []
        if cost:
            lots, entry = ledger.burn(
                lots, points=cost, now=now, entry_id=new_id(), reference=f"reward:{attribution_id}"
            )
            entries = [entry]
        zone = ctx.program(group, member.program_id).time_zone  # cached per container
        valid_from, valid_until = reward.validity_window(now, zone)
        if reward.codes == CodeSource.LOADED:
            codes = ctx.rewards.codes.codes_at(group, reward.external_id, taken + 1, request.quantity)
        else:
            codes = generate_codes(request.quantity)
        attribution = Attribution(
            attribution_id=attribution_id,
            reward_id=reward.external_id,
            card_code=card_code,
            program_id=member.program_id,
            quantity=request.quantity,
            codes=codes,
            earned_at=now,
            valid_from=valid_from,
            valid_until=valid_until,
            context=request.context,
            store_id=request.store_id,
            nqp_spent=cost,
            source=f"api:{idempotency_key}",
            created_at=now,
        )
        answer = StoredAnswer(fingerprint=fp, status=201, body=attribution.model_dump(mode="json"))
        # every unit is counted, unlimited or not (then with no condition on what was read): a
        # limit set later caps the total attributed
        read = taken if limit is not None else None
        extra = [
            ctx.rewards.take_action(group, reward.external_id, read, request.quantity),
            ctx.rewards.new_attribution_action(group, attribution),
        ]
        write = MemberWrite(
            member=member.model_copy(update={"lots": lots, "version": member.version + 1}),
            new_records=[NewRecord(sk, "reward_buy", {"answer": answer_attrs(answer)})],
            entries=entries,
            extra_actions=extra,
        )
        return Decision(write, answer)

    return change_member(ctx, group, card_code, [sk], decide)


def member_rewards(
    ctx: RewardsContext, caller: Caller, card_code: str, limit: int, cursor: str | None
) -> tuple[list[AttributionView], str | None]:
    """A page of the member's rewards, each with its state now."""
    if not ctx.members.programs_of(caller.group_id, [card_code]):
        raise NotFound(f"member {card_code!r} not found", code="member_not_found")
    page, next_cursor = ctx.rewards.member_attribution_page(caller.group_id, card_code, limit, cursor)
    now = ctx.clock()
    return [AttributionView.of(attribution, now) for attribution in page], next_cursor


def burn_attribution(
    ctx: RewardsContext,
    caller: Caller,
    card_code: str,
    attribution_id: str,
    request: BurnAttributionRequest,
    idempotency_key: str | None,
) -> Answer:
    """Burn units of an attribution (201), once per Idempotency-Key; the file's rules apply."""
    if not idempotency_key:
        raise key_required("Idempotency-Key")
    group = caller.group_id
    source = f"api:{idempotency_key}"
    fp = fingerprint("attribution_burn", request, card=card_code, attribution=attribution_id)
    attribution = ctx.rewards.attribution(group, attribution_id)
    if attribution is None or attribution.card_code != card_code:
        raise NotFound(
            f"attribution {attribution_id!r} not found for this card", code="attribution_not_found"
        )
    for _ in range(3):
        recorded = next((b for b in attribution.burns if b.source == source), None)
        if recorded is not None:
            if recorded.fingerprint != fp:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used for another request",
                    details=[{"field": "Idempotency-Key"}],
                )
            return 201, _burn_result(attribution, recorded).model_dump(mode="json")
        now = ctx.clock()
        burned_at = request.burned_at or now
        try:
            check_burn(attribution, card_code, burned_at, request.quantity, now)
        except RuleBroken as broken:
            if broken.code in CONFLICT_CODES:
                raise Conflict(broken.message, code=broken.code) from None
            raise broken.as_invalid_request() from None
        burn = Burn(
            source=source,
            burned_at=burned_at,
            quantity=request.quantity,
            context=request.context,
            store_id=request.store_id,
            recorded_at=now,
            fingerprint=fp,
            burned_after=attribution.burned + request.quantity,
        )
        try:
            attribution = ctx.rewards.add_burn(group, attribution_id, burn, attribution.quantity)
        except BurnRefused as refused:
            if refused.current is None:
                raise NotFound("attribution not found", code="attribution_not_found") from None
            attribution = refused.current  # burned concurrently: decide again on the fresh state
            continue
        return 201, _burn_result(attribution, burn).model_dump(mode="json")
    raise ConcurrentUpdate("too many concurrent burns of this attribution; retry with the same key")


def _burn_result(attribution: Attribution, burn: Burn) -> AttributionBurnResult:
    burned = burn.burned_after if burn.burned_after is not None else attribution.burned
    return AttributionBurnResult(
        attribution_id=attribution.attribution_id,
        card_code=attribution.card_code,
        burn=burn,
        burned=burned,
        remaining=attribution.quantity - burned,
    )
