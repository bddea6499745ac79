"""DynamoDB stream records of the member partition, built in memory for the domain events'
unit tests (what `loyalty_engine.events.rules` reads)."""

from __future__ import annotations

from typing import Any

from loyalty_engine.events import models as m
from loyalty_engine.events.rules import change_of, events_of
from loyalty_engine.kernel.dynamo import to_item

AT = "2026-03-01T10:00:00Z"
MEMBER_PK = "G#demo#C#2990000000017"


def record(
    name: str, pk: str, sk: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None, seq: str = "1"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Keys": to_item({"pk": pk, "sk": sk}),
        "SequenceNumber": seq,
        "ApproximateCreationDateTime": 1772359200,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        body["NewImage"] = to_item({"pk": pk, "sk": sk, **new})
    if old is not None:
        body["OldImage"] = to_item({"pk": pk, "sk": sk, **old})
    return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": body}


def ledger_entry(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "ledger_entry",
        "entry_id": "01JENTRY",
        "at": AT,
        "kind": kind,
        "reference": "o-1",
        "nq": 120,
        "q": 12,
        "nq_balance": 620,
        "q_balance": 40,
        "movements": [],
        "not_credited": 0,
        "unrecovered": 0,
        **extra,
    }


def events(rec: dict[str, Any]) -> list[m.DomainEvent]:
    return events_of(change_of(rec))
