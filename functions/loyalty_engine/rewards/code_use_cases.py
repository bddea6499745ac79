"""Use cases of a reward's loaded codes: load (API or file), look at the stock, take codes."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel.errors import ConcurrentUpdate, NotFound
from loyalty_engine.kernel.retry import RACE, attempts
from loyalty_engine.rewards.code_store import CODES_PER_TRANSACTION, CodesChanged
from loyalty_engine.rewards.codes import (
    CodePage,
    CodeSource,
    CodeStock,
    LoadCodesRequest,
    LoadResult,
    codes_not_loaded,
)
from loyalty_engine.rewards.models import MasterReward
from loyalty_engine.rewards.store import RewardStore, Stock

logger = Logger(service="loyalty-engine", child=True)

ADDED, REPLAYED, ALREADY_LOADED = "added", "replayed", "already_loaded"
ATTEMPTS = 30


def load(store: RewardStore, group: str, external_id: str, entries: list[tuple[str, str]]) -> list[str]:
    """Add (code, source) pairs to a reward's stock in their order, each code once.

    Returns one status per entry: `added`; `replayed` (the same source loaded it before: a
    retried call or a replayed file chunk); `already_loaded` (loaded before by someone else,
    or named earlier in `entries`). Each transaction of up to 49 codes is all or nothing;
    a concurrent load makes it read the stock again and retry.
    """
    statuses: list[str | None] = [None] * len(entries)
    first: dict[str, int] = {}
    for index, (code, _) in enumerate(entries):
        if code in first:
            statuses[index] = ALREADY_LOADED
        else:
            first[code] = index
    known = store.codes.known(group, external_id, list(first)) if first else {}
    fresh: list[int] = []
    for code, index in first.items():
        if code in known:
            statuses[index] = REPLAYED if known[code] == entries[index][1] else ALREADY_LOADED
        else:
            fresh.append(index)
    for start in range(0, len(fresh), CODES_PER_TRANSACTION):
        part = fresh[start : start + CODES_PER_TRANSACTION]
        for _ in attempts(ATTEMPTS, RACE):  # jittered: racing loaders do not retry in lockstep
            if not part:
                break
            stock = store.stock(group, external_id)
            try:
                store.codes.append(group, external_id, stock.loaded, [entries[i] for i in part])
            except CodesChanged:
                # another load ran meanwhile: drop the codes it loaded, retry the others
                found = store.codes.known(group, external_id, [entries[i][0] for i in part])
                for i in part:
                    code, source = entries[i]
                    if code in found:
                        statuses[i] = REPLAYED if found[code] == source else ALREADY_LOADED
                part = [i for i in part if entries[i][0] not in found]
                continue
            for i in part:
                statuses[i] = ADDED
            break
        else:
            raise ConcurrentUpdate("too many concurrent loads of this reward's codes; retry the same call")
    return [status or ALREADY_LOADED for status in statuses]


def code_stock(reward: MasterReward, stock: Stock) -> CodeStock:
    return CodeStock(
        reward_id=reward.external_id,
        codes=reward.codes,
        loaded=stock.loaded,
        handed_out=stock.taken,
        left=max(0, stock.loaded - stock.taken),
    )


def _loaded_reward(store: RewardStore, group: str, external_id: str) -> tuple[MasterReward, Stock]:
    found = store.rewards_with_stock(group, [external_id]).get(external_id)
    if found is None:
        raise NotFound(f"reward {external_id!r} not found", code="reward_not_found")
    if found[0].codes != CodeSource.LOADED:
        raise codes_not_loaded(external_id)
    return found


def load_codes(store: RewardStore, caller: Caller, external_id: str, request: LoadCodesRequest) -> LoadResult:
    """POST /v1/rewards/{external_id}/codes: idempotent per code (a retried call adds nothing)."""
    group = caller.group_id
    _loaded_reward(store, group, external_id)
    source = f"api:{caller.key_id}"
    statuses = load(store, group, external_id, [(code, source) for code in request.codes])
    reward, stock = _loaded_reward(store, group, external_id)
    added = statuses.count(ADDED)
    logger.info(
        "reward codes loaded", extra={"reward_id": external_id, "added": added, "loaded": stock.loaded}
    )
    return LoadResult(
        **code_stock(reward, stock).model_dump(),
        added=added,
        already_loaded=len(statuses) - added,
    )


def list_codes(
    store: RewardStore, caller: Caller, external_id: str, limit: int, cursor: str | None
) -> CodePage:
    """GET /v1/rewards/{external_id}/codes: the counts, and a page of the codes still to go."""
    reward, stock = _loaded_reward(store, caller.group_id, external_id)
    page, next_cursor = store.codes.page_after(caller.group_id, external_id, stock.taken, limit, cursor)
    return CodePage(**code_stock(reward, stock).model_dump(), remaining_codes=page, next_cursor=next_cursor)


def report_exhausted(reward_id: str, where: str) -> None:
    """An attribution was refused for want of codes: operators refill (a log line they alarm on)."""
    logger.warning(
        "reward codes exhausted",
        extra={"reward_id": reward_id, "reason": "reward_codes_exhausted", "where": where},
    )
