"""Page cursors: an opaque URL-safe form of a position (a sort key) in one partition or index.

A cursor carries only the position; the partition always comes from the caller's group, so a
cursor can never lead into another tenant's data.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import from_item, map_error
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.records import data_of
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, prefix: str = "", separator: str = "", max_length: int = 400) -> str:
    """The position, or 422 `invalid_cursor` if it is not one this API handed out."""
    try:
        position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        position = ""
    valid = bool(position) and position.startswith(prefix) and len(position) <= max_length
    if not valid or (separator and separator not in position):
        raise InvalidRequest(
            "invalid cursor", code="invalid_cursor", details=[{"field": "cursor", "reason": "invalid_cursor"}]
        )
    return position


def prefix_page(
    client: Any,
    table: str,
    pk: str,
    prefix: str,
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool = False,
    max_length: int = 64,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a partition's items under a sort-key prefix, in key order (highest first
    with `newest_first`), as plain values, and the cursor of the next page (None on the last,
    a full one included: the read asks for one item more than the page to know).
    A cursor is accepted only if it is a key under that prefix of at most `max_length`."""
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
        "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
        "ScanIndexForward": not newest_first,
        "Limit": limit + 1,  # one more than the page: a full last page then says it is the last
    }
    if cursor:
        sk = decode_cursor(cursor, prefix=prefix, max_length=max_length)
        params["ExclusiveStartKey"] = {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}
    try:
        response = client.query(**params)
    except ClientError as error:
        raise (map_error(error) or error) from error
    found = [from_item(raw) for raw in response.get("Items", [])]
    if len(found) > limit:  # there is more: the next page starts after this page's last item
        return [data_of(values) for values in found[:limit]], encode_cursor(found[limit - 1][SORT_KEY])
    last = response.get("LastEvaluatedKey")  # set with fewer items only when the read hit 1 MB
    return [data_of(values) for values in found], encode_cursor(last[SORT_KEY]["S"]) if last else None


def newest_first_page(
    client: Any, table: str, pk: str, prefix: str, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a partition's items under a sort-key prefix, newest (highest key) first."""
    return prefix_page(client, table, pk, prefix, limit, cursor, newest_first=True)
