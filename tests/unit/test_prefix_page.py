"""`kernel/cursors.prefix_page` against a client that pages as DynamoDB does.

DynamoDB answers a LastEvaluatedKey whenever a Query stops at its Limit, more items or not;
moto only when more remain, so tests/integration/test_full_last_page.py passes on moto with or
without the read of one item past the page. This fake keeps DynamoDB's rule, so a page read
without that extra item answers a cursor after a full last page here, and the test fails."""

from __future__ import annotations

from typing import Any

import pytest

from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY

PK = "G#acme"
PREFIX = "KEY#"


class DynamoLikeClient:
    """Query of one partition under a sort-key prefix, as DynamoDB pages it: at most Limit
    items, and a LastEvaluatedKey whenever Limit items were read (whether or not more remain)."""

    def __init__(self, sort_keys: list[str]):
        self.sort_keys = sorted(sort_keys)
        self.limits: list[int] = []

    def query(self, **params: Any) -> dict[str, Any]:
        values = params["ExpressionAttributeValues"]
        assert values[":pk"] == {"S": PK}
        ordered = self.sort_keys if params["ScanIndexForward"] else self.sort_keys[::-1]
        ordered = [sk for sk in ordered if sk.startswith(values[":prefix"]["S"])]
        if start := params.get("ExclusiveStartKey"):
            assert start[PARTITION_KEY] == {"S": PK}
            after = start[SORT_KEY]["S"]
            ordered = [sk for sk in ordered if (sk > after if params["ScanIndexForward"] else sk < after)]
        limit = params["Limit"]
        self.limits.append(limit)
        read = ordered[:limit]
        answer: dict[str, Any] = {
            "Items": [{PARTITION_KEY: {"S": PK}, SORT_KEY: {"S": sk}, "name": {"S": sk}} for sk in read]
        }
        if len(read) == limit:  # DynamoDB: the Limit was reached, so there may be more
            answer["LastEvaluatedKey"] = {PARTITION_KEY: {"S": PK}, SORT_KEY: {"S": read[-1]}}
        return answer


def _pages(client: DynamoLikeClient, limit: int, *, newest_first: bool = False) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        values, cursor = prefix_page(client, "table", PK, PREFIX, limit, cursor, newest_first=newest_first)
        pages.append([value["name"] for value in values])
        if cursor is None or len(pages) > 10:
            return pages


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_full_last_page_answers_no_cursor_on_dynamodb(newest_first: bool) -> None:
    names = [f"{PREFIX}{n}" for n in range(4)]
    client = DynamoLikeClient([*names, "GROUP", "QUOTA"])
    in_order = sorted(names, reverse=newest_first)
    assert _pages(client, 4, newest_first=newest_first) == [in_order]  # no empty page after it
    assert _pages(client, 2, newest_first=newest_first) == [in_order[:2], in_order[2:]]
    assert _pages(client, 3, newest_first=newest_first) == [in_order[:3], in_order[3:]]
    assert _pages(client, 5, newest_first=newest_first) == [in_order]


def test_an_empty_partition_is_one_empty_page() -> None:
    assert _pages(DynamoLikeClient(["GROUP"]), 1) == [[]]
