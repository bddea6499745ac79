"""BatchGetItem and BatchWriteItem in full-size requests, retrying what DynamoDB leaves unprocessed.

`threads` > 1 sends that many requests at once (`kernel/parallel.py`): the requests of one call
touch distinct keys (they are deduplicated first), so their order does not matter; a caller
that needs an order between items makes two calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import from_item, map_error, to_item
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.kernel.retry import BUSY, attempts
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY

GET_LIMIT = 100
WRITE_LIMIT = 25
ATTEMPTS = 8

R = TypeVar("R")
Pace = Callable[[list[dict[str, Any]]], None]  # called with a write request's items before it is sent


def key(pk: str, sk: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _each(work: Callable[[Any], R], parts: Iterator[Any], threads: int) -> list[R]:
    if threads <= 1:
        return [work(part) for part in parts]
    from loyalty_engine.kernel.parallel import in_parallel  # not in the API functions' cold import

    return in_parallel(work, parts, threads)


def batch_get(
    client: Any,
    table: str,
    keys: Iterable[tuple[str, str]],
    *,
    projection: tuple[str, ...] = (),
    consistent: bool = True,
    threads: int = 1,
) -> dict[tuple[str, str], dict[str, Any]]:
    """The items found, by (pk, sk). Never answers "absent" for a key that was not read."""
    unique = list(dict.fromkeys(keys))

    def read(part: list[tuple[str, str]]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"Keys": [key(pk, sk) for pk, sk in part], "ConsistentRead": consistent}
        if projection:
            names = {f"#p{i}": name for i, name in enumerate((PARTITION_KEY, SORT_KEY, *projection))}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        pending: dict[str, Any] = {table: request}
        items: list[dict[str, Any]] = []
        for _ in attempts(ATTEMPTS, BUSY):
            try:
                response = client.batch_get_item(RequestItems=pending)
            except ClientError as error:
                raise (map_error(error) or error) from error
            items += response.get("Responses", {}).get(table, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return items
        raise ServiceUnavailable("the database is busy; retry")

    found: dict[tuple[str, str], dict[str, Any]] = {}
    for items in _each(read, _chunks(unique, GET_LIMIT), threads):
        for raw in items:
            values = from_item(raw)
            found[(values[PARTITION_KEY], values[SORT_KEY])] = values
    return found


def batch_put(
    client: Any,
    table: str,
    items: list[dict[str, Any]],
    pace: Pace | None = None,
    threads: int = 1,
) -> int:
    """Put items (plain values), 25 per request; the last item of a key wins. Returns the requests
    made. `pace` is called with each request's items before it is sent (it may wait; with
    `threads` > 1 from several threads at once)."""
    by_key = {(values[PARTITION_KEY], values[SORT_KEY]): values for values in items}

    def write(part: list[dict[str, Any]]) -> int:
        if pace is not None:
            pace(part)
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": to_item(values)}} for values in part]}
        for requests, _ in enumerate(attempts(ATTEMPTS, BUSY), start=1):
            try:
                response = client.batch_write_item(RequestItems=pending)
            except ClientError as error:
                raise (map_error(error) or error) from error
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                return requests
        raise ServiceUnavailable("the database is busy; retry")

    return sum(_each(write, _chunks(list(by_key.values()), WRITE_LIMIT), threads))
