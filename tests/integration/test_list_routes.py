"""List routes of the collections (issue 16): programs, merchant groups, merchants, customer
groups and customers, through the real handlers on moto. Each is paged in id order with `limit` and `cursor`,
lists only the calling key's group, and refuses a cursor it did not hand out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_engine.kernel.dynamo import client
from tests.integration.conftest import ADMIN, OTHER_GROUP, SHOP
from tests.support.api import Reply, call, load_event

# list event, its items' key, the PUT event that makes one, its id's path parameter
LISTS = {
    "programs": ("api_list_programs", "api_put_program", "program_id"),
    "merchant_groups": ("api_list_merchant_groups", "api_put_merchant_group", "merchant_group_id"),
    "merchants": ("api_list_merchants", "api_put_merchant", "merchant_id"),
    "customer_groups": ("api_list_customer_groups", "api_put_customer_group", "customer_group_id"),
    "customers": ("api_list_customers", "api_put_customer", "customer_id"),
}


def body_of(event: str) -> dict[str, Any]:
    return json.loads(load_event(event)["body"])  # type: ignore[no-any-return]


def make(key: str, item_id: str, caller=ADMIN) -> None:
    _, put_event, parameter = LISTS[key]
    body = {**body_of(put_event), "name": f"Name {item_id}"}
    if key == "customers":
        body = {"first_name": item_id, "customer_groups": []}
    if key == "merchants":
        body = {**body, "store_id": f"S-{item_id}", "merchant_groups": []}
    reply = call(put_event, caller, path={parameter: item_id}, body=body)
    assert reply.status in (200, 201), reply.body


def page(key: str, limit: int | None = None, cursor: str | None = None, caller=ADMIN) -> Reply:
    query = ({"limit": str(limit)} if limit is not None else {}) | ({"cursor": cursor} if cursor else {})
    return call(LISTS[key][0], caller, query=query or None)


def all_ids(key: str, limit: int, caller=ADMIN) -> list[str]:
    parameter = LISTS[key][2]
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        reply = page(key, limit, cursor, caller)
        assert reply.status == 200, reply.body
        items = reply.body[key]
        assert len(items) <= limit
        ids += [item[parameter] for item in items]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the pages never end")


@pytest.mark.parametrize("key", sorted(LISTS))
def test_a_collection_is_listed_a_page_at_a_time_in_id_order(key, table):
    assert page(key).body == {key: [], "next_cursor": None}  # empty
    ids = [f"x-{n}" for n in (3, 0, 6, 1, 5, 2, 4)]
    for item_id in ids:
        make(key, item_id)
    expected = sorted(ids)
    assert all_ids(key, 3) == expected
    assert all_ids(key, 1) == expected
    assert all_ids(key, 200) == expected
    whole = page(key)  # default limit 50: one page
    assert whole.status == 200 and whole.body["next_cursor"] is None
    # the items are those the single-item GET answers
    _, put_event, parameter = LISTS[key]
    single = call(put_event.replace("api_put_", "api_get_"), ADMIN, path={parameter: "x-0"})
    assert single.status == 200
    if key == "customers":  # listed without their links
        assert whole.body[key][0] == {k: v for k, v in single.body.items() if k != "links"}
    else:
        assert whole.body[key][0] == single.body


@pytest.mark.parametrize("key", sorted(LISTS))
def test_another_groups_items_are_never_listed(key, table):
    for item_id in ("a-1", "a-2"):
        make(key, item_id)
    make(key, "b-1", OTHER_GROUP)
    assert all_ids(key, 1) == ["a-1", "a-2"]
    assert all_ids(key, 1, OTHER_GROUP) == ["b-1"]
    # demo's cursor in demo-b's hands is only a position in demo-b's partition
    cursor = page(key, 1).body["next_cursor"]
    reply = page(key, 1, cursor, OTHER_GROUP)
    assert reply.status == 200 and [i[LISTS[key][2]] for i in reply.body[key]] == ["b-1"]


@pytest.mark.parametrize("key", sorted(LISTS))
@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "bm90LWEtY3Vyc29y"},  # "not-a-cursor": not under the prefix
        {"cursor": "UFJPR1JBTVY"},  # "PROGRAMV": a key of another kind
        {"cursor": "%%%"},
        {"cursor": "x" * 201},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "1.5"},
        {"limit": "ten"},
    ],
)
def test_refusals_are_422_and_change_nothing(key, query, table):
    make(key, "x-1")
    reply = call(LISTS[key][0], ADMIN, query=query)
    assert reply.status == 422, reply.body
    if "cursor" in query and query["cursor"].isalnum() and len(query["cursor"]) <= 200:
        assert reply.body["code"] == "invalid_cursor"
    assert all_ids(key, 50) == ["x-1"]


def test_programs_are_listed_for_shop_keys_too_and_not_their_versions_or_names(program):
    # the program's versions (PROGRAMV#) and name claim (PROGRAMNAME#) share its partition
    make("programs", "a-second")
    reply = page("programs", caller=SHOP)
    assert reply.status == 200, reply.body
    assert [p["program_id"] for p in reply.body["programs"]] == ["a-second", program["program_id"]]
    assert reply.body["programs"][1] == call("api_get_program", SHOP).body


def test_merchants_and_merchant_groups_do_not_mix(table):
    # merchants (M#), merchant groups (MG#) and store claims (STORE#) share one partition
    make("merchant_groups", "mg-1")
    make("merchants", "m-1")
    assert all_ids("merchants", 1) == ["m-1"]
    assert all_ids("merchant_groups", 1) == ["mg-1"]


def test_customers_are_listed_as_saved_again_and_with_their_groups(table):
    make("customer_groups", "club")
    make("customers", "c-1")
    reply = call(
        "api_put_customer",
        ADMIN,
        path={"customer_id": "c-1"},
        body={"first_name": "Ada", "customer_groups": ["club"]},
    )
    assert reply.status == 200, reply.body
    listed = page("customers").body["customers"]
    assert [(c["customer_id"], c["first_name"], c["customer_groups"]) for c in listed] == [
        ("c-1", "Ada", ["club"])
    ]


def test_a_customer_saved_before_the_directory_is_listed_after_its_next_save(table):
    make("customers", "c-old")
    client, name = table
    key = {"pk": {"S": "G#demo#CUSTOMERS"}, "sk": {"S": "CU#c-old"}}
    client.delete_item(TableName=name, Key=key)  # as if saved before the directory existed
    assert page("customers").body["customers"] == []
    make("customers", "c-old")
    assert all_ids("customers", 1) == ["c-old"]


@pytest.mark.parametrize("key", sorted(LISTS))
def test_a_page_costs_one_query(key, table):
    for item_id in ("x-1", "x-2", "x-3"):
        make(key, item_id)
    cursor = page(key, 2).body["next_cursor"]
    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    events = client().meta.events
    events.register("before-call.dynamodb", count)
    try:
        assert [i[LISTS[key][2]] for i in page(key, 2, cursor).body[key]] == ["x-3"]
    finally:
        events.unregister("before-call.dynamodb", count)
    # customers: the directory's Query, then the page's customer items in one BatchGetItem
    assert calls == (["Query", "BatchGetItem"] if key == "customers" else ["Query"])
