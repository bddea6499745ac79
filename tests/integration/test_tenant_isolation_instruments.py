"""A key of one loyalty group never reaches another group's instruments: the instrument routes
(merchants, series, gift cards, customers) get demo data of their own; another group's call
answers 404 (or creates that group's own resource), demo's data stays as it was, and demo's own
call of the same sample event still works."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import ADMIN, CARD, OTHER_GROUP
from tests.support.api import call, load_event
from tests.support.instrument_api import CREDIT, STORE, ok, put_series, seed_sample_number
from tests.support.tenant_isolation import (
    EVENT_FOR,
    INSTRUMENT,
    OTHER_POS,
    POS_EVENTS,
    _demo_items,
    _not_found,
)

# List routes of the instrument API, with the key of their items in the answer.
INSTRUMENT_LISTS = {
    "api_list_merchant_groups": "merchant_groups",
    "api_list_merchants": "merchants",
    "api_list_customer_groups": "customer_groups",
    "api_list_customers": "customers",
}


def _demo_instrument_data() -> None:
    """demo's merchant group, merchant, series `gift` (with the sample batch) and `credit`, the
    sample number sold and partly spent, a store credit, a customer group and a customer linked
    to the member's card: every sample event of the instrument routes, as demo."""
    for name in ("api_put_merchant_group", "api_put_merchant", "api_put_series"):
        ok(call(name, ADMIN))
    ok(put_series("credit", {**CREDIT, "issuer_group": "stores", "acceptor_group": "stores"}))
    seed_sample_number()
    for name in ("api_activate_gift_card", "api_redeem_instrument", "api_issue_store_credit"):
        ok(call(name, STORE))
    for name in ("api_put_customer_group", "api_put_customer"):
        ok(call(name, ADMIN))
    ok(call("api_link_card_customer", ADMIN), 200)
    ok(call("api_create_batch", ADMIN))  # last: moto copies the whole table in each transaction


@pytest.mark.parametrize("route", INSTRUMENT, ids=lambda r: f"{r[0]} {r[1]}")
def test_other_group_cannot_reach_demo_instruments(route, table, member):
    _demo_instrument_data()
    assert ok(call("api_lookup_instrument", STORE), 200)["balance"] == "37.50"
    assert ok(call("api_get_customer", ADMIN), 200)["links"]["card_codes"] == [CARD]
    before = _demo_items(table)
    assert {"G#demo#I#6012000000000011", "G#demo#CU#c-1001", "G#demo#SERIES"} <= {i["pk"] for i in before}
    name = EVENT_FOR[route]
    sent = json.loads(load_event(name)["body"] or "null")
    if name in ("api_put_merchant_group", "api_put_customer_group"):
        # demo-b may create its own with the same id: it must not touch demo's
        assert call(name, OTHER_GROUP, body={**sent, "name": "Intruder"}).status == 201
    elif name == "api_put_merchant":
        # demo's merchant group is not demo-b's; demo's store id is not claimed in demo-b
        reply = call(name, OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "unknown_merchant_group"), reply.body
        assert call(name, OTHER_GROUP, body={**sent, "merchant_groups": []}).status == 201
    elif name == "api_put_series":
        # demo's merchant group is not demo-b's; demo's prefix is free in demo-b
        reply = call(name, OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "unknown_merchant_group"), reply.body
        assert call("api_put_merchant_group", OTHER_GROUP).status == 201
        assert call(name, OTHER_GROUP, body={**sent, "name": "Intruder"}).status == 201
    elif name == "api_put_customer":
        reply = call(name, OTHER_GROUP)
        assert (reply.status, reply.body["code"]) == (422, "unknown_customer_group"), reply.body
        assert call(name, OTHER_GROUP, body={**sent, "customer_groups": []}).status == 201
    elif name == "api_list_series":
        assert ok(call(name, OTHER_GROUP), 200) == {"series": []}
    elif name in INSTRUMENT_LISTS:
        # the group is the key's: demo-b lists demo-b's own (none), demo lists its one
        key = INSTRUMENT_LISTS[name]
        assert ok(call(name, OTHER_GROUP), 200) == {key: [], "next_cursor": None}
        assert len(ok(call(name, ADMIN), 200)[key]) == 1
    else:
        _not_found(call(name, OTHER_POS if name in POS_EVENTS else OTHER_GROUP))
    assert _demo_items(table) == before
    # demo's own call of the same sample event works
    reply = call(name, STORE if name in POS_EVENTS else ADMIN)
    assert reply.status in (200, 201), reply.body
