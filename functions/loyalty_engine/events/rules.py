"""Which committed change makes which event: pure rules over one DynamoDB stream record.

A transaction writes several items (member, lot buckets, ledger entry, stored answer, ...), and
each item is one stream record. Exactly one item type stands for each kind of change, so a
change yields one event of its kind however many items it wrote:

| item (`type`) | stream record | event |
| --- | --- | --- |
| `member` | INSERT | member.enrolled |
| `ledger_entry` | INSERT (append-only) | points.earned / burned / returned / expired / adjusted, by the entry's kind |
| `expiry_notice` | INSERT (written once per lot) | points.expiring_soon |
| `tier_change` | INSERT (append-only) | tier.upgraded / tier.downgraded / vip.granted / vip.removed, by its cause |
| `attribution` | INSERT; MODIFY | reward.attributed; reward.burned per burn source new in the image |
| `import_job` | the state becomes final | import.completed; import.rejected (rejected, failed, duplicate) |
| `issued_instrument` | INSERT | instrument.issued |
| `instrument_entry` | INSERT (append-only) | instrument.activated / redeemed / reversed / cancelled, store_credit.issued |
| `instrument_batch` | the status becomes `completed` | batch.ready |

Every other item, every REMOVE (TTL) and every rewrite of an append-only item yields nothing.
The event id is a UUID v5 of the item's keys, the kind and what tells two changes of one item
apart (a burn's source): the same record delivered again has the same id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from loyalty_engine.events import models as m
from loyalty_engine.kernel.dynamo import from_item
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY, TYPE_ATTRIBUTE

# Fixed forever: changing it would change every event id.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a8e-4b7d-5e3f-9a10-2c5d7e8f9b01")
EventName = Literal["INSERT", "MODIFY", "REMOVE"]


@dataclass(frozen=True)
class Change:
    """One stream record, deserialized: the item before and after the change."""

    event_name: EventName
    pk: str
    sk: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    recorded_at: datetime

    @property
    def item_type(self) -> str | None:
        image = self.new if self.new is not None else self.old
        return None if image is None else image.get(TYPE_ATTRIBUTE)

    @property
    def group(self) -> str:
        return self.pk.split("#")[1]  # every partition key begins with G#<group> (slugs have no #)

    def key_part(self, index: int) -> str:
        return self.pk.split("#")[index]


def change_of(record: dict[str, Any]) -> Change:
    """A Lambda DynamoDB stream record (`dynamodb` with attribute values) as a Change."""
    body = record["dynamodb"]
    keys = from_item(body["Keys"])
    created = Decimal(str(body.get("ApproximateCreationDateTime", 0)))
    return Change(
        event_name=record["eventName"],
        pk=keys[PARTITION_KEY],
        sk=keys[SORT_KEY],
        old=from_item(body["OldImage"]) if "OldImage" in body else None,
        new=from_item(body["NewImage"]) if "NewImage" in body else None,
        recorded_at=datetime.fromtimestamp(int(created), UTC),
    )


def event_id(change: Change, kind: str, *discriminators: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "|".join((change.pk, change.sk, kind, *discriminators))))


def _base(change: Change, kind: str, occurred_at: Any, *discriminators: str) -> dict[str, Any]:
    return {
        "event_id": event_id(change, kind, *discriminators),
        "group": change.group,
        "occurred_at": occurred_at,
        "recorded_at": change.recorded_at,
    }


def cents(value: Any) -> int | None:
    """A stored money amount (a decimal string or number) in cents."""
    if value is None:
        return None
    return int((Decimal(str(value)) * 100).to_integral_value())


# ------------------------------------------------------------------ the rules, per item type


def _member(change: Change) -> list[m.DomainEvent]:
    new = change.new
    if change.event_name != "INSERT" or new is None:
        return []
    return [
        m.MemberEnrolled(
            **_base(change, "member.enrolled", new["created_at"]),
            card_code=new["card_code"],
            program_id=new["program_id"],
            customer_ref=new.get("customer_ref"),
            subscribed_at=new["subscribed_at"],
        )
    ]


POINTS_KINDS: dict[str, type[m.PointsChange]] = {
    "earn": m.PointsEarned,
    "burn": m.PointsBurned,
    "payment": m.PointsBurned,
    "return": m.PointsReturned,
    "payment_reversal": m.PointsReturned,
    "expire": m.PointsExpired,
}


def _ledger_entry(change: Change) -> list[m.DomainEvent]:
    new = change.new
    if change.event_name != "INSERT" or new is None:
        return []
    # Any other kind (an operator's adjustment, or a kind added later) is an adjustment: every
    # entry of the ledger is one event.
    model = POINTS_KINDS.get(new["kind"], m.PointsAdjusted)
    extra: dict[str, Any] = {}
    if model is m.PointsEarned:
        extra["not_credited"] = new.get("not_credited", 0)
    if model is m.PointsReturned:
        extra["unrecovered"] = new.get("unrecovered", 0)
    return [
        model(
            # an earn took effect when its order was placed, whenever it was recorded
            **_base(change, m.kind_of(model), new.get("occurred_at") or new["at"]),
            card_code=change.key_part(3),
            entry_id=new["entry_id"],
            entry_kind=new["kind"],
            reference=new.get("reference"),
            nq=new["nq"],
            q=new["q"],
            nq_balance=new["nq_balance"],
            q_balance=new["q_balance"],
            **extra,
        )
    ]


TIER_CAUSES: dict[str, type[m.TierChanged]] = {
    "upgrade_run": m.TierUpgraded,
    "downgrade_run": m.TierDowngraded,
    "vip_grant": m.VipGranted,
    "vip_remove": m.VipRemoved,
}


def _tier_change(change: Change) -> list[m.DomainEvent]:
    new = change.new
    if change.event_name != "INSERT" or new is None or new.get("cause") not in TIER_CAUSES:
        return []
    model = TIER_CAUSES[new["cause"]]
    extra: dict[str, Any] = {}
    if issubclass(model, m.VipChanged):
        extra = {
            "vip_tier": new.get("vip_tier") or "",
            "reason": new.get("reason"),
            "source": new.get("source"),
            "import_line": new.get("import_line"),
        }
    return [
        model(
            **_base(change, m.kind_of(model), new["at"]),
            card_code=change.key_part(3),
            previous_tier=new.get("previous_tier"),
            new_tier=new.get("new_tier"),
            vip_tiers=new.get("vip_tiers") or [],
            q_points=new.get("q_points", 0),
            **extra,
        )
    ]


def _attribution(change: Change) -> list[m.DomainEvent]:
    new, old = change.new, change.old
    if new is None:
        return []
    events: list[m.DomainEvent] = []
    if change.event_name == "INSERT":
        events.append(
            m.RewardAttributed(
                **_base(change, "reward.attributed", new["created_at"]),
                attribution_id=new["attribution_id"],
                reward_id=new["reward_id"],
                card_code=new["card_code"],
                program_id=new["program_id"],
                quantity=new["quantity"],
                nqp_spent=new.get("nqp_spent", 0),
                valid_from=new["valid_from"],
                valid_until=new["valid_until"],
                source=new["source"],
            )
        )
    seen = {burn["source"] for burn in (old or {}).get("burns", [])}
    burned = sum(burn["quantity"] for burn in new.get("burns", []) if burn["source"] in seen)
    for burn in new.get("burns", []):
        if burn["source"] in seen:
            continue
        seen.add(burn["source"])
        burned += burn["quantity"]
        after = burn.get("burned_after") or burned
        events.append(
            m.RewardBurned(
                **_base(change, "reward.burned", burn["burned_at"], burn["source"]),
                attribution_id=new["attribution_id"],
                reward_id=new["reward_id"],
                card_code=new["card_code"],
                quantity=burn["quantity"],
                burned=after,
                remaining=new["quantity"] - after,
                source=burn["source"],
                store_id=burn.get("store_id"),
            )
        )
    return events


REJECTED_STATES = ("rejected", "failed", "duplicate")


def _import_job(change: Change) -> list[m.DomainEvent]:
    new, old = change.new, change.old
    if new is None or new.get("state") not in ("completed", *REJECTED_STATES):
        return []
    if old is not None and old.get("state") == new["state"]:
        return []
    common = {
        "import_id": new["import_id"],
        "file_name": new["file_name"],
        "scope": new.get("scope"),
        "counts": {k: v for k, v in (new.get("progress") or {}).items() if k in m.ImportCounts.model_fields},
        "report": new.get("report"),
    }
    occurred = new.get("finished_at") or new["received_at"]
    if new["state"] == "completed":
        return [m.ImportCompleted(**_base(change, "import.completed", occurred), **common)]
    rejection = new.get("rejection") or {}
    return [
        m.ImportRejected(
            **_base(change, "import.rejected", occurred),
            **common,
            state=new["state"],
            code=rejection.get("code"),
            message=rejection.get("message"),
            duplicate_of=new.get("duplicate_of"),
        )
    ]


def _issued_instrument(change: Change) -> list[m.DomainEvent]:
    new = change.new
    if change.event_name != "INSERT" or new is None:
        return []
    return [
        m.InstrumentIssued(
            **_base(change, "instrument.issued", new["issued_at"]),
            number=new["number"],
            series_id=new["series_id"],
            instrument_kind=new["kind"],
            batch_id=new.get("batch_id"),
            balance_cents=cents(new.get("balance")),
            valid_until=new.get("valid_until"),
        )
    ]


MOVEMENT_KINDS: dict[str, type[m.InstrumentMovement]] = {
    "activation": m.InstrumentActivated,
    "issue": m.StoreCreditIssued,
    "redemption": m.InstrumentRedeemed,
    "reversal": m.InstrumentReversed,
    "cancellation": m.InstrumentCancelled,
}


def _instrument_entry(change: Change) -> list[m.DomainEvent]:
    new = change.new
    if change.event_name != "INSERT" or new is None or new.get("kind") not in MOVEMENT_KINDS:
        return []
    model = MOVEMENT_KINDS[new["kind"]]
    extra: dict[str, Any] = {}
    if model is m.InstrumentReversed:
        extra["reverses"] = new.get("reverses")
    if model is m.InstrumentCancelled:
        extra["reason"] = new.get("reason")
    return [
        model(
            **_base(change, m.kind_of(model), new["at"]),
            number=change.key_part(3),
            entry_no=new["entry_no"],
            reference=new["reference"],
            amount_cents=cents(new.get("amount")) or 0,
            balance_after_cents=cents(new.get("balance_after")),
            status_after=new["status_after"],
            merchant_id=new.get("merchant_id"),
            store_id=new.get("store_id"),
            **extra,
        )
    ]


def _instrument_batch(change: Change) -> list[m.DomainEvent]:
    new, old = change.new, change.old
    if new is None or new.get("status") != "completed":
        return []
    if old is not None and old.get("status") == "completed":
        return []
    return [
        m.BatchReady(
            **_base(change, "batch.ready", new.get("completed_at") or new["updated_at"]),
            batch_id=new["batch_id"],
            series_id=new["series_id"],
            count=new["count"],
            issued=new.get("issued", 0),
            export_key=new.get("export_key"),
        )
    ]


def _expiry_notice(change: Change) -> list[m.DomainEvent]:
    new = change.new
    if change.event_name != "INSERT" or new is None:
        return []
    return [
        m.PointsExpiringSoon(
            **_base(change, "points.expiring_soon", new["noticed_at"]),
            card_code=change.key_part(3),
            lot_id=new["lot_id"],
            point_kind=new["point_kind"],
            points=new["points"],
            expires_at=new["expires_at"],
        )
    ]


RULES: dict[str, Callable[[Change], list[m.DomainEvent]]] = {
    "member": _member,
    "ledger_entry": _ledger_entry,
    "expiry_notice": _expiry_notice,
    "tier_change": _tier_change,
    "attribution": _attribution,
    "import_job": _import_job,
    "issued_instrument": _issued_instrument,
    "instrument_entry": _instrument_entry,
    "instrument_batch": _instrument_batch,
}


def events_of(change: Change) -> list[m.DomainEvent]:
    """The events one committed change makes (none for most items)."""
    if change.event_name == "REMOVE":
        return []
    rule = RULES.get(change.item_type or "")
    return rule(change) if rule is not None else []
