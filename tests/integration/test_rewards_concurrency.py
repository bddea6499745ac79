"""Concurrent purchases of a limited reward never oversell (real API handler, moto server).

As in test_concurrency.py: moto's threaded server (DynamoDB applies each request atomically,
so requests are serialized there), and one copy of the API module per thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import Handler, Reply, lambda_container
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once, invoke
from tests.support.fast_clients import shared_botocore_loader

BUYERS = 20


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def reward(limit: int, nqp_value: int) -> dict[str, Any]:
    return {
        "name": "Limited edition",
        "nqp_value": nqp_value,
        "holding_days": 0,
        "validity_interval_count": 30,
        "validity_interval_type": "days",
        "is_limited": True,
        "max_attribution_count": limit,
    }


def buy(handler: Handler, card: str, key: str) -> Reply:
    return invoke(
        handler,
        "api_buy_reward",
        SHOP,
        path={"card_code": card},
        body={"reward_id": "limited", "quantity": 1},
        headers={"Idempotency-Key": key},
    )


def outcome(replies: list[Reply]) -> Counter:
    return Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)


@pytest.fixture
def setup(moto_server) -> Handler:
    default_context().clock = FakeClock()
    handler = lambda_container()
    assert invoke(handler, "api_put_program", ADMIN).status == 201
    assert invoke(handler, "api_enrol_member", SHOP).status == 201
    earned = invoke(handler, "api_earn_order", SHOP, body=order_body(order_id="SEED", amount="100.00"))
    assert earned.status == 201, earned.body
    assert earned.body["balances"]["nq"]["available"] == 1000
    return handler


def test_twenty_buyers_of_five_units_same_member(setup):
    """8 units, 3 sold already: 5 left for 20 concurrent purchases by one member."""
    handler = setup
    put = invoke(handler, "api_put_reward", ADMIN, path={"external_id": "limited"}, body=reward(8, 10))
    assert put.status == 201, put.body
    for n in range(3):
        assert buy(handler, CARD, f"early-{n}").status == 201

    handlers = [lambda_container() for _ in range(BUYERS)]

    def purchase(n: int) -> Callable[[], Reply]:
        return lambda: buy(handlers[n], CARD, f"race-{n:02d}")

    replies = all_at_once([purchase(n) for n in range(BUYERS)])

    assert outcome(replies) == {(201, None): 5, (409, "out_of_stock"): 15}, outcome(replies)
    codes = [code for reply in replies if reply.status == 201 for code in reply.body["codes"]]
    assert len(set(codes)) == 5  # generated codes, all different
    view = invoke(handler, "api_get_reward", SHOP, path={"external_id": "limited"}).body
    assert (view["attributed"], view["remaining"]) == (8, 0)
    member = invoke(handler, "api_get_member", SHOP).body
    assert member["balances"]["nq"]["available"] == 1000 - 8 * 10
    owned = invoke(handler, "api_list_member_rewards", SHOP, query={"limit": "50"}).body["attributions"]
    assert len(owned) == 8
    assert len({code for a in owned for code in a["codes"]}) == 8


def buyers(handler: Any) -> tuple[list[str], list[Any]]:
    """BUYERS members enrolled, and a Lambda container of the API for each."""
    cards = [f"29900000{n:05d}" for n in range(100, 100 + BUYERS)]
    for card in cards:
        enrolled = invoke(handler, "api_enrol_member", SHOP, body={"card_code": card})
        assert enrolled.status == 201, enrolled.body
    return cards, [lambda_container() for _ in range(BUYERS)]


def test_twenty_members_race_for_five_units(setup):
    """A fresh reward (no unit taken yet) of 5 units, 20 members buying one each at once."""
    handler = setup
    put = invoke(handler, "api_put_reward", ADMIN, path={"external_id": "limited"}, body=reward(5, 0))
    assert put.status == 201, put.body
    cards, handlers = buyers(handler)

    def purchase(n: int) -> Callable[[], Reply]:
        return lambda: buy(handlers[n], cards[n], f"race-{n:02d}")

    replies = all_at_once([purchase(n) for n in range(BUYERS)])

    assert outcome(replies) == {(201, None): 5, (409, "out_of_stock"): 15}, outcome(replies)
    codes = sorted(code for reply in replies if reply.status == 201 for code in reply.body["codes"])
    assert len(set(codes)) == 5
    view = invoke(handler, "api_get_reward", SHOP, path={"external_id": "limited"}).body
    assert (view["attributed"], view["remaining"]) == (5, 0)
    winners = {reply.body["card_code"] for reply in replies if reply.status == 201}
    for card in cards:
        owned = invoke(handler, "api_list_member_rewards", SHOP, path={"card_code": card}).body[
            "attributions"
        ]
        assert len(owned) == (1 if card in winners else 0)


def test_twenty_members_buy_an_unlimited_reward_at_once(setup):
    """An unlimited reward's units are counted as a finite one's (a limit set later caps the
    total): 20 members buying 1 or 2 units at once all get them, each unit counted once."""
    handler = setup
    unlimited = {"is_auto_generated": True, "is_limited": False, "max_attribution_count": None}
    put = invoke(
        handler, "api_put_reward", ADMIN, path={"external_id": "limited"}, body=reward(1, 0) | unlimited
    )
    assert put.status == 201, put.body
    cards, handlers = buyers(handler)

    def purchase(n: int) -> Callable[[], Reply]:
        body = {"reward_id": "limited", "quantity": 1 + n % 2}
        headers = {"Idempotency-Key": f"race-{n:02d}"}
        return lambda: invoke(
            handlers[n], "api_buy_reward", SHOP, path={"card_code": cards[n]}, body=body, headers=headers
        )

    replies = all_at_once([purchase(n) for n in range(BUYERS)])

    assert outcome(replies) == {(201, None): BUYERS}, outcome(replies)
    total = sum(1 + n % 2 for n in range(BUYERS))
    codes = [code for reply in replies for code in reply.body["codes"]]
    assert len(set(codes)) == len(codes) == total
    view = invoke(handler, "api_get_reward", SHOP, path={"external_id": "limited"}).body
    assert (view["attributed"], view["remaining"]) == (total, None)
    for card in cards:
        owned = invoke(handler, "api_list_member_rewards", SHOP, path={"card_code": card}).body
        assert len(owned["attributions"]) == 1
