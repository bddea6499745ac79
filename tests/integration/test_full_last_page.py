"""A full last page says it is the last: `kernel/cursors.prefix_page`, the lists of one
partition's items (here the group's API keys, through the real API handler on moto).

DynamoDB answers a LastEvaluatedKey whenever a Query reaches its Limit, more items or not; moto
only when more remain. So these pages are read one item past the page, and the page's last item
is the cursor: checked here with pages that end full, short, and past the end. On moto this
passes with or without that extra item; tests/unit/test_prefix_page.py pages as DynamoDB does
and fails without it."""

from __future__ import annotations

from tests.integration.conftest import ADMIN
from tests.support.api import call


def _pages(limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        page = call("api_list_api_keys", ADMIN, query=query)
        assert page.status == 200, page.body
        pages.append([key["name"] for key in page.body["keys"]])
        cursor = page.body["next_cursor"]
        if cursor is None:
            return pages


def test_a_full_last_page_has_no_cursor_and_no_empty_page_follows(table):
    for n in range(4):
        made = call(
            "api_create_api_key",
            ADMIN,
            body={"name": f"till {n}", "scopes": ["shop"]},
            headers={"Idempotency-Key": f"k{n}"},
        )
        assert made.status == 201, made.body
    names = sorted(f"till {n}" for n in range(4))
    assert [sorted(p) for p in _pages(4)] == [names]  # one full page, and no empty one after it
    two = _pages(2)
    assert [len(p) for p in two] == [2, 2] and sorted(two[0] + two[1]) == names
    assert [len(p) for p in _pages(3)] == [3, 1]
    assert [len(p) for p in _pages(5)] == [4]
