"""A member's timeline, one page at a time (`GET /v1/members/{card_code}/timeline`).

Cost of a page: one Query per source that is not finished (ledger, tier changes, rewards: up
to `limit` items each), plus, while instruments remain, a GetItem (the card's customer), a
Query (the customer's instrument links) and a BatchGetItem (their instruments); the first page
also reads the member (GetItem) to answer 404 for an unknown card; a page showing adjustments
reads their comments (one BatchGetItem). At most 7 requests a page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import NotFound
from loyalty_engine.points.ledger import LedgerEntry
from loyalty_engine.points.tier_history import TierChange, TierRef
from loyalty_engine.rewards.models import Attribution
from loyalty_engine.timeline.models import (
    DONE,
    LedgerEntryView,
    TimelineItem,
    TimelinePage,
    decode,
    merge,
    points_text,
)
from loyalty_engine.timeline.store import TimelineStore


def timeline(
    store: TimelineStore, caller: Caller, card_code: str, limit: int, cursor: str | None
) -> TimelinePage:
    group = caller.group_id
    positions = decode(cursor)
    if cursor is None and not store.member_exists(group, card_code):
        raise NotFound(f"member {card_code!r} not found", code="member_not_found")
    fetched: dict[str, list[tuple[str, TimelineItem]]] = {}
    if positions["ledger"] != DONE:
        rows = store.under_prefix(group, card_code, keys.ENTRY_PREFIX, limit, positions["ledger"])
        fetched["ledger"] = [(sk, _ledger_item(LedgerEntry.model_validate(v))) for sk, v in rows]
    if positions["tier_change"] != DONE:
        rows = store.under_prefix(group, card_code, keys.TIER_HISTORY_PREFIX, limit, positions["tier_change"])
        fetched["tier_change"] = [(sk, _tier_item(_tier_change(v))) for sk, v in rows]
    if positions["reward"] != DONE:
        rows = store.attributions(group, card_code, limit, positions["reward"])
        fetched["reward"] = [(sk, _reward_item(_attribution(v))) for sk, v in rows]
    if positions["instrument"] != DONE:
        fetched["instrument"] = _instrument_items(
            store.instruments(group, card_code), positions["instrument"], limit
        )
    page = merge(fetched, positions, limit)
    references = [
        i.detail["reference"] for i in page.items if i.kind == "adjustment" and i.detail.get("reference")
    ]
    if references:  # customer service's comments, kept with each adjustment's record
        comments = store.adjustment_comments(group, card_code, references)
        for item in page.items:
            if item.kind == "adjustment" and item.detail.get("reference") in comments:
                item.detail["comment"] = comments[item.detail["reference"]]
    return page


def ledger_view(
    store: TimelineStore, caller: Caller, card_code: str, entries: list[LedgerEntry]
) -> list[LedgerEntryView]:
    """A ledger page as the key may see it: an admin key also reads each adjustment's comment
    (one BatchGetItem of their records, as the timeline does); a shop key never does."""
    views = [LedgerEntryView.model_construct(**dict(entry)) for entry in entries]  # validated already
    references = [v.reference for v in views if v.kind == "adjustment" and v.reference]
    if "admin" not in caller.scopes or not references:
        return views
    comments = store.adjustment_comments(caller.group_id, card_code, references)
    return [
        v.model_copy(update={"comment": comments[v.reference]})
        if v.kind == "adjustment" and v.reference in comments
        else v
        for v in views
    ]


def _tier_change(values: dict[str, Any]) -> TierChange:
    values = dict(values)
    values.pop("card_code", None)
    return TierChange.model_validate(values)


def _attribution(values: dict[str, Any]) -> Attribution:
    values = dict(values)
    values.pop("burn_sources", None)
    return Attribution.model_validate(values)


def _ledger_item(entry: LedgerEntry) -> TimelineItem:
    summary = f"{entry.kind} {points_text(entry.nq, entry.q)}"
    if entry.reason_code:
        summary += f" ({entry.reason_code})"
    if entry.reference:
        summary += f", ref {entry.reference}"
    return TimelineItem(
        at=entry.at,
        type="ledger",
        kind=entry.kind,
        summary=summary,
        id=entry.entry_id,
        detail=entry.model_dump(mode="json"),
    )


def _tier_name(ref: TierRef | None) -> str:
    return "none" if ref is None else ref.name


def _tier_item(change: TierChange) -> TimelineItem:
    if change.vip_tier:
        summary = f"{change.cause} {change.vip_tier}"
    else:
        summary = f"{change.cause}: {_tier_name(change.previous_tier)} -> {_tier_name(change.new_tier)}"
    return TimelineItem(
        at=change.at,
        type="tier_change",
        kind=change.cause,
        summary=summary,
        id=str(change.member_version),
        detail=change.model_dump(mode="json"),
    )


def _reward_item(attribution: Attribution) -> TimelineItem:
    state = "burned" if attribution.remaining == 0 else "granted"
    summary = f"reward {attribution.reward_id} x{attribution.quantity}"
    if attribution.nqp_spent:
        summary += f" for {attribution.nqp_spent} NQ"
    if attribution.burned:
        summary += f", {attribution.burned} burned"
    return TimelineItem(
        at=attribution.created_at,
        type="reward",
        kind=state,
        summary=summary,
        id=attribution.attribution_id,
        detail=attribution.model_dump(mode="json"),
    )


def _instrument_items(
    instruments: list[dict[str, Any]], after: str | None, limit: int
) -> list[tuple[str, TimelineItem]]:
    """The customer's instruments, newest first (activated, else issued); positions are their
    rank in that order, so a later page goes on after the last one shown."""
    items = []
    for values in instruments:
        at = datetime.fromisoformat(
            str(values.get("activated_at") or values["issued_at"]).replace("Z", "+00:00")
        )
        balance = f", balance {values['balance']}" if values.get("balance") is not None else ""
        detail = {
            name: values.get(name)
            for name in (
                "number",
                "series_id",
                "kind",
                "status",
                "balance",
                "issued_at",
                "activated_at",
                "valid_until",
            )
        }
        summary = f"{values.get('kind')} {values['number']} {values.get('status')}{balance}"
        items.append(
            TimelineItem(
                at=at,
                type="instrument",
                kind=str(values.get("kind")),
                summary=summary,
                id=str(values["number"]),
                detail=detail,
            )
        )
    items.sort(key=lambda item: (item.at, item.id), reverse=True)
    first = int(after) + 1 if after is not None and after.isdigit() else 0
    return [(f"{rank:04d}", item) for rank, item in enumerate(items) if rank >= first][:limit]
