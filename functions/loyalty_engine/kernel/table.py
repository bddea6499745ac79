"""The single DynamoDB table: key attributes, indexes and TTL.

This module is the one definition of the table's shape. CDK (`infra/`), the local
stack (`local_stack/`) and the tests all build the table from it, so they cannot drift.
Key *values* are built in `loyalty_engine.kernel.keys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TYPE_ATTRIBUTE = "type"
TTL_ATTRIBUTE = "ttl"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str
    projection: str = "ALL"


# gsi1: "members of a program" (sharded), used by listings and the scheduled tier runs; also
# the per-group lists (a program's runs, a card's attributions, an import file's imports...).
GSI1 = Index(name="gsi1", partition_key="gsi1pk", sort_key="gsi1sk")
GLOBAL_SECONDARY_INDEXES: tuple[Index, ...] = (GSI1,)

# Members of one program are spread over this many gsi1 partitions so that a
# program with millions of members neither hot-spots a partition on enrolment
# nor serializes a scan: a scheduled run fans out one worker per shard.
MEMBER_SHARDS = 16

# The table's stream: every change with the item before and after it, read by the domain
# events' publisher (`loyalty_engine.events`).
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


def stream_specification() -> dict[str, Any]:
    return {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}


def create_table_params(table_name: str, *, stream: bool = True) -> dict[str, Any]:
    """boto3 `create_table` arguments (on-demand), as CDK declares the same table.

    `stream=False` leaves the stream off: tests that do not look at domain events (moto copies
    a table's whole stream on every transaction, to roll it back)."""
    attributes = {PARTITION_KEY, SORT_KEY}
    for index in GLOBAL_SECONDARY_INDEXES:
        attributes.update((index.partition_key, index.sort_key))
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": index.projection},
            }
            for index in GLOBAL_SECONDARY_INDEXES
        ],
        **({"StreamSpecification": stream_specification()} if stream else {}),
    }


def enable_ttl_params(table_name: str) -> dict[str, Any]:
    return {
        "TableName": table_name,
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    }
