"""BatchGetItem and BatchWriteItem in full-size requests, retrying what DynamoDB leaves unprocessed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import from_item, map_error, to_item
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.kernel.retry import BUSY, attempts
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY

GET_LIMIT = 100
WRITE_LIMIT = 25
ATTEMPTS = 8


def key(pk: str, sk: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def batch_get(
    client: Any,
    table: str,
    keys: Iterable[tuple[str, str]],
    *,
    projection: tuple[str, ...] = (),
    consistent: bool = True,
) -> dict[tuple[str, str], dict[str, Any]]:
    """The items found, by (pk, sk). Never answers "absent" for a key that was not read."""
    unique = list(dict.fromkeys(keys))
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for part in _chunks(unique, GET_LIMIT):
        request: dict[str, Any] = {"Keys": [key(pk, sk) for pk, sk in part], "ConsistentRead": consistent}
        if projection:
            names = {f"#p{i}": name for i, name in enumerate((PARTITION_KEY, SORT_KEY, *projection))}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        for _ in attempts(ATTEMPTS, BUSY):
            try:
                response = client.batch_get_item(RequestItems=pending)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in response.get("Responses", {}).get(table, []):
                values = from_item(raw)
                found[(values[PARTITION_KEY], values[SORT_KEY])] = values
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            raise ServiceUnavailable("the database is busy; retry")
    return found


def batch_put(
    client: Any,
    table: str,
    items: list[dict[str, Any]],
    pace: Callable[[list[dict[str, Any]]], None] | None = None,
) -> int:
    """Put items (plain values), 25 per request; the last item of a key wins. Returns the requests
    made. `pace` is called with each request's items before it is sent (it may wait)."""
    by_key = {(values[PARTITION_KEY], values[SORT_KEY]): values for values in items}
    requests = 0
    for part in _chunks(list(by_key.values()), WRITE_LIMIT):
        if pace is not None:
            pace(part)
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": to_item(values)}} for values in part]}
        for _ in attempts(ATTEMPTS, BUSY):
            try:
                response = client.batch_write_item(RequestItems=pending)
            except ClientError as error:
                raise (map_error(error) or error) from error
            requests += 1
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise ServiceUnavailable("the database is busy; retry")
    return requests
