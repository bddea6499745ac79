"""Concurrent requests on one member, through the real API handler, against moto's threaded
server (tests/support/concurrency.py): each thread plays one Lambda container."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import Reply, lambda_container
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once, invoke, ledger
from tests.support.ledger import assert_running_balances


@pytest.fixture
def funded_member(moto_server) -> dict[str, Any]:
    """The sample program and member, with 1000 NQ points available (100.00 EUR, holding over)."""
    default_context().clock = FakeClock()  # 2026-12-10: the order below is 20 days old
    handler = lambda_container()
    assert invoke(handler, "api_put_program", ADMIN).status == 201
    assert invoke(handler, "api_enrol_member", SHOP).status == 201
    earned = invoke(handler, "api_earn_order", SHOP, body=order_body(order_id="SEED", amount="100.00"))
    assert earned.status == 201, earned.body
    assert earned.body["balances"]["nq"]["available"] == 1000
    return earned.body


def test_fifty_concurrent_burns_spend_exactly_what_is_available(funded_member):
    handlers = [lambda_container() for _ in range(50)]

    def burn(n: int) -> Callable[[], Reply]:
        return lambda: invoke(
            handlers[n], "api_burn_points", SHOP, body={"burn_id": f"B-{n:02d}", "points": 100}
        )

    replies = all_at_once([burn(n) for n in range(50)])

    outcomes = Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)
    assert outcomes == {(201, None): 10, (409, "insufficient_points"): 40}, outcomes
    spent = sorted(reply.body["burn_id"] for reply in replies if reply.status == 201)
    # every successful burn saw the one before it: balances after them are 900, 800, ..., 0
    after = sorted(reply.body["balances"]["nq"]["available"] for reply in replies if reply.status == 201)
    assert after == list(range(0, 1000, 100))

    main = handlers[0]
    view = invoke(main, "api_get_member", SHOP)
    assert view.body["balances"]["nq"] == {"available": 0, "pending": 0, "next_expiry": None}
    entries = ledger(main, SHOP)
    assert_running_balances(entries)
    assert sorted(entry["reference"] for entry in entries if entry["kind"] == "burn") == spent
    assert [entry["kind"] for entry in entries] == ["earn"] + ["burn"] * 10
    stored, _ = default_context().members.load(SHOP.group_id, CARD, [])
    assert stored is not None
    assert all(lot.points > 0 for lot in stored.lots), stored.lots
    assert sum(lot.points for lot in stored.lots if lot.kind == "nq") == 0
    assert stored.version == 1 + 10  # enrolment (version 0), the earn, ten burns


def test_twenty_concurrent_replays_of_one_order_earn_once(moto_server):
    default_context().clock = FakeClock()
    setup = lambda_container()
    assert invoke(setup, "api_put_program", ADMIN).status == 201
    assert invoke(setup, "api_enrol_member", SHOP).status == 201
    handlers = [lambda_container() for _ in range(20)]
    body = order_body(order_id="WEB-RACE", amount="100.00")

    def earn(n: int) -> Callable[[], Reply]:
        return lambda: invoke(handlers[n], "api_earn_order", SHOP, body=body)

    replies = all_at_once([earn(n) for n in range(20)])

    assert {reply.status for reply in replies} == {201}, [
        reply.body for reply in replies if reply.status != 201
    ]
    assert all(reply.body == replies[0].body for reply in replies)
    assert replies[0].body["earned"]["nq"] == 1000
    entries = ledger(setup, SHOP)
    assert_running_balances(entries)
    assert [(entry["kind"], entry["reference"]) for entry in entries] == [("earn", "WEB-RACE")]
    view = invoke(setup, "api_get_member", SHOP)
    assert view.body["balances"]["nq"]["available"] == 1000
