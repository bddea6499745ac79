"""A member's lot chunk items as stored (`points.lots`), read straight from the table."""

from __future__ import annotations

import os
from typing import Any

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.dynamo import client as default_client
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY


def lot_items(
    card: str, group: str = "demo", *, dynamodb: Any = None, table: str | None = None
) -> dict[str, dict]:
    """The card's `LOTS#` items (raw), by sort key: one Query, consistent."""
    response = (dynamodb or default_client()).query(
        TableName=table or os.environ["TABLE_NAME"],
        KeyConditionExpression="#pk = :pk AND begins_with(#sk, :lots)",
        ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY},
        ExpressionAttributeValues={
            ":pk": {"S": keys.member_pk(group, card)},
            ":lots": {"S": keys.LOTS_PREFIX},
        },
        ConsistentRead=True,
    )
    assert "LastEvaluatedKey" not in response
    return {raw[SORT_KEY]["S"]: raw for raw in response["Items"]}
