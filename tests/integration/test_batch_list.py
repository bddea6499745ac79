"""`GET /v1/series/{series_id}/batches` (issue 16): a series' pre-issue batches in batch id order,
a page at a time, through the real instrument handler on moto; the group is the key's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import ADMIN, OTHER_GROUP, SHOP
from tests.support.api import Reply, call
from tests.support.instrument_api import create_batch, gift_spec, ok, put_series, use_clock


def page(series_id: str = "gift", caller: Any = ADMIN, **query: str) -> Reply:
    return call("api_list_batches", caller, path={"series_id": series_id}, query=query)


def walk(series_id: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(50):
        reply = page(series_id, limit=str(limit), **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply.body
        assert len(reply.body["batches"]) <= limit
        ids += [b["batch_id"] for b in reply.body["batches"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the pages never end")


@pytest.fixture
def two_series(table) -> None:
    use_clock()
    ok(call("api_put_merchant_group", ADMIN))  # `stores`, the sample series' issuer and acceptor
    ok(put_series("gift", gift_spec()))
    ok(put_series("gift-2", gift_spec(prefix="6019", name="Other gift")))


def test_a_series_batches_by_id_a_page_at_a_time(two_series):
    assert page().body == {"batches": [], "next_cursor": None}
    for batch_id in ("b-3", "b-1", "b-2"):
        ok(create_batch("gift", batch_id, 2))
    ok(create_batch("gift-2", "b-0", 1))  # another series of the group: not in gift's list
    for limit in (1, 2, 50):
        assert walk("gift", limit) == ["b-1", "b-2", "b-3"]
    assert walk("gift-2", 50) == ["b-0"]
    first = page().body["batches"][0]
    assert first == call("api_get_batch", ADMIN, path={"series_id": "gift", "batch_id": "b-1"}).body
    assert (first["status"], first["count"], first["issued"]) == ("completed", 2, 2)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "validation_error"),
        ({"limit": "201"}, "validation_error"),
        ({"limit": "x"}, "invalid_number"),
        ({"cursor": "Qi1naWZ0LTIjYi0w"}, "invalid_cursor"),  # "B-gift-2#b-0": not under B#gift#
        ({"cursor": "not a cursor"}, "validation_error"),
    ],
)
def test_a_bad_limit_or_cursor_is_a_structured_4xx(two_series, query, code):
    reply = page(**query)
    assert (reply.status, reply.body["code"]) == (422, code), reply.body


def test_another_series_cursor_does_not_lead_into_it(two_series):
    ok(create_batch("gift-2", "b-0", 1))
    ok(create_batch("gift-2", "b-1", 1))
    cursor = page("gift-2", limit="1").body["next_cursor"]
    reply = page("gift", cursor=cursor)
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor"), reply.body


def test_unknown_series_other_group_and_shop_key(two_series):
    ok(create_batch("gift", "b-1", 1))
    assert (page("nope").status, page("nope").body["code"]) == (404, "series_not_found")
    other = page(caller=OTHER_GROUP)
    assert (other.status, other.body["code"]) == (404, "series_not_found")
    assert page(caller=SHOP).status == 403
