"""The audit log's items: one access pattern per method.

A record is written as two items (one without an object is impossible: every route has one):
- `G#<group>#AUDIT` / `T#<at>#<request id>`, with `gsi1pk = G#<group>#AUDITKEY#<key id>` and
  `gsi1sk` = its sort key: the group's log by time, and (gsi1) one key's log by time;
- `G#<group>#AUDITOBJ#<object>` / the same sort key: one object's log by time.
Both carry the `ttl`. They are put by one BatchWriteItem (retried on unprocessed items); a put
of the same request again (same time, same request id) overwrites them with the same values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.audit.records import AuditRecord, at_text
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_put
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.dynamo import from_item, map_error
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

# Above every request id: `T#<at>#~` is the highest sort key of a millisecond.
_END = "~"


class AuditStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def put(self, group: str, record: AuditRecord, ttl: int) -> int:
        """Write the record's items; returns the BatchWriteItem requests made."""
        sk = keys.audit_sk(at_text(record.at), record.request_id)
        data = record.model_dump(mode="json")
        by_time = item(
            keys.audit_pk(group),
            sk,
            "audit",
            data,
            **{GSI1.partition_key: keys.audit_key_gsi1pk(group, record.key_id), GSI1.sort_key: sk},
            **{TTL_ATTRIBUTE: ttl},
        )
        by_object = item(
            keys.audit_object_pk(group, record.object), sk, "audit_object", data, **{TTL_ATTRIBUTE: ttl}
        )
        return batch_put(self._client, self._table, [by_time, by_object])

    def page(
        self,
        group: str,
        *,
        start: datetime,
        end: datetime,
        key_id: str | None,
        audit_object: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[AuditRecord], str | None]:
        """One page, newest first, of the records made between `start` and `end` (both
        included): one Query of the object's partition (filtered by key when both are given),
        of gsi1 for a key, or of the group's partition."""
        low = keys.audit_sk(at_text(start), "")
        high = keys.audit_sk(at_text(end), _END)
        names = {"#sk": SORT_KEY, "#pk": PARTITION_KEY}
        values: dict[str, Any] = {":low": {"S": low}, ":high": {"S": high}}
        params: dict[str, Any] = {"TableName": self._table, "ScanIndexForward": False, "Limit": limit}
        if audit_object is not None:
            pk = keys.audit_object_pk(group, audit_object)
            if key_id is not None:
                params["FilterExpression"] = "#key = :key"
                names["#key"] = "key_id"
                values[":key"] = {"S": key_id}
        elif key_id is not None:
            pk = keys.audit_key_gsi1pk(group, key_id)
            params["IndexName"] = GSI1.name
            names = {"#pk": GSI1.partition_key, "#sk": GSI1.sort_key}
        else:
            pk = keys.audit_pk(group)
        values[":pk"] = {"S": pk}
        params["KeyConditionExpression"] = "#pk = :pk AND #sk BETWEEN :low AND :high"
        params["ExpressionAttributeNames"] = names
        params["ExpressionAttributeValues"] = values
        if cursor:
            sk = decode_cursor(cursor, prefix=keys.AUDIT_PREFIX, max_length=200)
            if not low <= sk <= high:  # DynamoDB refuses a start key outside the key condition
                raise InvalidRequest(
                    "the cursor is outside the time range",
                    code="invalid_cursor",
                    details=[{"field": "cursor", "reason": "invalid_cursor"}],
                )
            start_key = {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}
            if "IndexName" in params:
                start_key = {
                    PARTITION_KEY: {"S": keys.audit_pk(group)},
                    SORT_KEY: {"S": sk},
                    GSI1.partition_key: {"S": pk},
                    GSI1.sort_key: {"S": sk},
                }
            params["ExclusiveStartKey"] = start_key
        try:
            response = self._client.query(**params)
        except ClientError as error:
            raise (map_error(error) or error) from error
        records = [AuditRecord.model_validate(data_of(from_item(raw))) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return records, encode_cursor(last[SORT_KEY]["S"]) if last else None
