"""Converting domain models to table items and back. Every item carries a `type`."""

from __future__ import annotations

import json
from typing import Any

from loyalty_engine.kernel.idempotency import StoredAnswer
from loyalty_engine.kernel.table import (
    GLOBAL_SECONDARY_INDEXES,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
    TYPE_ATTRIBUTE,
)

_INTERNAL = {PARTITION_KEY, SORT_KEY, TYPE_ATTRIBUTE, TTL_ATTRIBUTE} | {
    attribute for index in GLOBAL_SECONDARY_INDEXES for attribute in (index.partition_key, index.sort_key)
}


def item(pk: str, sk: str, item_type: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {PARTITION_KEY: pk, SORT_KEY: sk, TYPE_ATTRIBUTE: item_type, **extra, **data}


def data_of(values: dict[str, Any]) -> dict[str, Any]:
    """The domain fields of a deserialized item (keys and bookkeeping removed)."""
    return {k: v for k, v in values.items() if k not in _INTERNAL}


def answer_attrs(answer: StoredAnswer) -> dict[str, Any]:
    # The answer body is kept as JSON text so that a replay is byte-for-byte the first answer.
    return {"fingerprint": answer.fingerprint, "status": answer.status, "body": json.dumps(answer.body)}


def answer_from(attrs: dict[str, Any]) -> StoredAnswer:
    return StoredAnswer(
        fingerprint=attrs["fingerprint"], status=attrs["status"], body=json.loads(attrs["body"])
    )
