"""Loaded codes under concurrency (real API handler per thread, moto's threaded server):
concurrent buyers never get the same code and get them in load order; concurrent loads of
overlapping lists store each code once, numbered without gaps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import Handler, Reply, lambda_container
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once, invoke
from tests.support.fast_clients import shared_botocore_loader

BUYERS = 20
VOUCHER = {
    "name": "Partner voucher",
    "nqp_value": 0,
    "holding_days": 0,
    "validity_interval_count": 30,
    "validity_interval_type": "days",
    "codes": "loaded",
}


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@pytest.fixture
def handler(moto_server) -> Handler:
    default_context().clock = FakeClock()
    handler = lambda_container()
    assert invoke(handler, "api_put_program", ADMIN).status == 201
    assert invoke(handler, "api_enrol_member", SHOP).status == 201
    assert invoke(handler, "api_earn_order", SHOP, body=order_body(order_id="SEED")).status == 201
    put = invoke(handler, "api_put_reward", ADMIN, path={"external_id": "voucher"}, body=VOUCHER)
    assert put.status == 201, put.body
    return handler


def load(handler: Handler, codes: list[str]) -> Reply:
    return invoke(
        handler, "api_load_reward_codes", ADMIN, path={"external_id": "voucher"}, body={"codes": codes}
    )


def test_twenty_members_race_for_five_loaded_codes(handler):
    assert load(handler, [f"V-{n}" for n in range(1, 9)]).status == 200
    for n in range(3):
        bought = invoke(
            handler,
            "api_buy_reward",
            SHOP,
            body={"reward_id": "voucher"},
            headers={"Idempotency-Key": f"early-{n}"},
        )
        assert bought.body["codes"] == [f"V-{n + 1}"]
    cards = [f"29900000{n:05d}" for n in range(100, 100 + BUYERS)]
    for card in cards:
        assert invoke(handler, "api_enrol_member", SHOP, body={"card_code": card}).status == 201
    handlers = [lambda_container() for _ in range(BUYERS)]

    def purchase(n: int) -> Callable[[], Reply]:
        return lambda: invoke(
            handlers[n],
            "api_buy_reward",
            SHOP,
            path={"card_code": cards[n]},
            body={"reward_id": "voucher"},
            headers={"Idempotency-Key": f"race-{n}"},
        )

    replies = all_at_once([purchase(n) for n in range(BUYERS)])
    outcome = Counter((r.status, (r.body or {}).get("code")) for r in replies)
    assert outcome == {(201, None): 5, (409, "reward_codes_exhausted"): 15}, outcome
    won = sorted(code for r in replies if r.status == 201 for code in r.body["codes"])
    assert won == [f"V-{n}" for n in range(4, 9)]  # the remaining codes, each once
    stock = invoke(handler, "api_list_reward_codes", ADMIN, path={"external_id": "voucher"}).body
    assert (stock["loaded"], stock["handed_out"], stock["left"], stock["remaining_codes"]) == (8, 8, 0, [])


def test_concurrent_overlapping_loads_store_each_code_once(handler):
    loaders = 6  # moto applies a 60-action transaction slowly: few enough to stay within its timeouts
    handlers = [lambda_container() for _ in range(loaders)]
    lists = [[f"C-{n:03d}" for n in range(start * 10, start * 10 + 30)] for start in range(loaders)]

    def loading(n: int) -> Callable[[], Reply]:
        return lambda: load(handlers[n], lists[n])

    replies = all_at_once([loading(n) for n in range(loaders)])
    assert all(r.status == 200 for r in replies), [r.body for r in replies]
    distinct = sorted({code for codes in lists for code in codes})
    assert sum(r.body["added"] for r in replies) == len(distinct)
    pages, cursor = [], None
    while True:
        query = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
        page = invoke(
            handler, "api_list_reward_codes", ADMIN, path={"external_id": "voucher"}, query=query
        ).body
        pages += page["remaining_codes"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(pages) == distinct  # every code once, numbered 1..n without gaps
    assert page["loaded"] == len(distinct)
