"""What DynamoDB would do, as pure functions: the p50 latencies the benchmarks inject, an
item's size as AWS counts it, and the write units a write costs (table and index copies).

No boto3 here (the unit tests in tests/unit/test_bench_wcu.py import it alone). The hooks
that apply these to a botocore client are in `bench/aws_hooks.py`.

Latency (one table for every benchmark: `bench/imports.py` and `bench/jobs.py` projected with
the same figures before they were injected): p50 in-region, milliseconds per call. A Query
costs QUERY_BASE_MS plus QUERY_MS_PER_ITEM per item it returns, so that a 500-item gsi1 page
(about 600 KB, the tier runs') costs 100 ms and a lookup of a few items 5 ms.

Item size (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
the UTF-8 bytes of every attribute name plus its value: S its UTF-8 bytes; N 1 byte per two
significant digits (leading and trailing zeros trimmed) plus 1; B its bytes; BOOL and NULL 1;
L and M 3 bytes plus 1 per element plus the elements (a map element counts its key's bytes);
SS, NS, BS the sum of their elements.

Write units: ceil(size / 1 KB) per item written (at least 1), the larger of the item before
and after the write for a put, update or delete; twice that in a TransactWriteItems (its
ConditionChecks count like writes of the checked item). Each global secondary index whose key
attributes the item carries gets a copy: its projection (ALL: the whole item; KEYS_ONLY: the
table's and the index's keys; INCLUDE: those plus the named attributes), written as a
standard write (index propagation is not part of the transaction). A write that gives or
takes the index keys costs a put or a delete in the index, one that changes them a delete
plus a put, one that changes neither the keys nor any projected attribute nothing.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# p50 milliseconds per call, in-region (the projections' figures, now injected).
LATENCY_MS: dict[str, float] = {
    "BatchWriteItem": 10.0,
    "BatchGetItem": 5.0,
    "TransactWriteItems": 10.0,
    "TransactGetItems": 5.0,
    "UpdateItem": 5.0,
    "PutItem": 5.0,
    "DeleteItem": 5.0,
    "GetItem": 3.0,
    "Scan": 100.0,
}
OTHER_MS = 5.0  # any other DynamoDB operation
QUERY_BASE_MS = 5.0
QUERY_MS_PER_ITEM = 0.19  # 500 items: 5 + 95 = 100 ms
S3_REQUEST_MS = 20.0  # every S3 and SQS call (first byte of a GetObject)
S3_STREAM_MB_S = 50.0  # GetObject bodies (not injected: the body is read after the call)
UNIT_BYTES = 1024
FULL_VCPU_MB = 1769  # Lambda gives a whole vCPU at this memory size, a share of one below it
PARTITION_WCU_S = 1000  # DynamoDB's per-partition write limit


def call_ms(operation: str, returned_items: int = 0) -> float:
    """The injected latency of one DynamoDB call."""
    if operation == "Query":
        return QUERY_BASE_MS + QUERY_MS_PER_ITEM * returned_items
    return LATENCY_MS.get(operation, OTHER_MS)


def latency_table() -> dict[str, Any]:
    """The table above, as the benchmarks print and store it."""
    return {
        "dynamodb_ms": dict(LATENCY_MS),
        "dynamodb_other_ms": OTHER_MS,
        "query_ms": f"{QUERY_BASE_MS:g} + {QUERY_MS_PER_ITEM:g} per item returned",
        "s3_sqs_request_ms": S3_REQUEST_MS,
    }


# --- item size ------------------------------------------------------------------------------


def _number_bytes(text: str) -> int:
    mantissa = text.strip().lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def _binary_bytes(value: Any) -> int:
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    return len(base64.b64decode(value))  # the wire form: base64 text


def value_size(typed: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON form ({"S": ...}, {"M": {...}})."""
    ((kind, value),) = typed.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return _number_bytes(value)
    if kind == "B":
        return _binary_bytes(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum(_number_bytes(v) for v in value)
    if kind == "BS":
        return sum(_binary_bytes(v) for v in value)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in value.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """An item's size: every attribute's name (UTF-8 bytes) plus its value."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(typed) for name, typed in item.items())


def units(size: int) -> int:
    """Write units of one standard write of an item of `size` bytes (at least 1)."""
    return max(1, math.ceil(size / UNIT_BYTES))


# --- write units ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexShape:
    """A global secondary index as the write-unit rules need it (kernel.table.Index's fields)."""

    name: str
    partition_key: str
    sort_key: str | None = None
    projection: str = "ALL"  # ALL | KEYS_ONLY | INCLUDE
    included: tuple[str, ...] = ()

    def key_names(self) -> tuple[str, ...]:
        return (self.partition_key,) if self.sort_key is None else (self.partition_key, self.sort_key)

    def entry(self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The item's copy in this index, or None if the item lacks the index's keys."""
        if not item or any(k not in item for k in self.key_names()):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = {*table_keys, *self.key_names()}
        if self.projection == "INCLUDE":
            wanted.update(self.included)
        return {k: v for k, v in item.items() if k in wanted}


@dataclass
class WriteCost:
    """The write units of one item written: the table's, each index's, by partition key."""

    table_units: int
    index_units: dict[str, int] = field(default_factory=dict)
    # partition key -> units: the table's ("<pk value>") and each index's ("<index>:<pk value>")
    partitions: dict[str, int] = field(default_factory=dict)
    item_bytes: int = 0

    @property
    def total(self) -> int:
        return self.table_units + sum(self.index_units.values())


def write_cost(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    indexes: Iterable[IndexShape] = (),
    table_keys: tuple[str, str] = ("pk", "sk"),
    transactional: bool = False,
) -> WriteCost:
    """The units of writing `new` over `old` (None: no item; a delete is new=None)."""
    size = max(item_size(old), item_size(new))
    table_units = units(size) * (2 if transactional else 1)
    either = new or old or {}
    pk_name = table_keys[0]
    partitions: dict[str, int] = {}
    if pk_name in either:
        partitions[_key_text(either[pk_name])] = table_units
    cost = WriteCost(table_units=table_units, partitions=partitions, item_bytes=size)
    for index in indexes:
        before, after = index.entry(old, table_keys), index.entry(new, table_keys)
        writes: list[tuple[Mapping[str, Any], int]] = []
        if before is not None and after is not None:
            if any(before[k] != after[k] for k in index.key_names()):
                writes = [(before, units(item_size(before))), (after, units(item_size(after)))]
            elif before != after:
                writes = [(after, units(max(item_size(before), item_size(after))))]
        elif after is not None:
            writes = [(after, units(item_size(after)))]
        elif before is not None:
            writes = [(before, units(item_size(before)))]
        if writes:
            cost.index_units[index.name] = sum(n for _, n in writes)
            for entry, n in writes:
                key = f"{index.name}:{_key_text(entry[index.partition_key])}"
                partitions[key] = partitions.get(key, 0) + n
    return cost


def _key_text(typed: Mapping[str, Any]) -> str:
    ((_, value),) = typed.items()
    return value if isinstance(value, str) else str(value)


def hottest(partition_units: Mapping[str, int], seconds: float) -> dict[str, Any]:
    """The partition key with the most units, and its units per second over `seconds`."""
    if not partition_units or seconds <= 0:
        return {"key": None, "units": 0, "wcu_s": 0.0}
    key, total = max(partition_units.items(), key=lambda kv: kv[1])
    return {"key": key, "units": total, "wcu_s": round(total / seconds, 1)}


def vcpu_share(memory_mb: int) -> float:
    """The share of a vCPU a function of `memory_mb` gets."""
    return min(1.0, memory_mb / FULL_VCPU_MB)
