"""Concurrent payments with points on one member, through the real API handler against a moto
server (see test_concurrency.py): never more than the balance, never a negative balance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import Reply, call, lambda_container
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once, ledger
from tests.support.ledger import assert_running_balances
from tests.support.pay_with_points import ACCEPTORS, TILL, program_body


def _funded(handler) -> None:  # type: ignore[no-untyped-def]
    default_context().clock = FakeClock()
    instruments = lambda_container("loyalty_engine.handlers.instrument_api")
    reply = call(
        "api_put_merchant_group",
        ADMIN,
        path={"merchant_group_id": ACCEPTORS},
        body={"name": "Acceptors"},
        handler=instruments,
    )
    assert reply.status == 201, reply.body
    body = {"name": "Till", "store_id": "S-1", "merchant_groups": [ACCEPTORS]}
    reply = call("api_put_merchant", ADMIN, path={"merchant_id": "till-1"}, body=body, handler=instruments)
    assert reply.status == 201, reply.body
    assert call("api_put_program", ADMIN, body=program_body(), handler=handler).status == 201
    assert call("api_enrol_member", TILL, handler=handler).status == 201
    earned = call("api_earn_order", TILL, body=order_body(order_id="SEED", amount="100.00"), handler=handler)
    assert earned.body["balances"]["nq"]["available"] == 1000, earned.body


def _payments(amount: str, count: int) -> list[Reply]:
    handlers = [lambda_container() for _ in range(count)]

    def pay(n: int) -> Callable[[], Reply]:
        body = {"payment_id": f"P-{n:02d}", "program_id": "club", "amount": amount, "currency": "EUR"}
        return lambda: call("api_pay_points", TILL, body=body, handler=handlers[n])

    return all_at_once([pay(n) for n in range(count)])


def test_two_concurrent_payments_beyond_the_balance_one_succeeds(moto_server):
    main = lambda_container()
    _funded(main)
    replies = _payments("60.00", 2)  # 600 points each, 1000 available
    outcomes = Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)
    assert outcomes == {(201, None): 1, (409, "insufficient_points"): 1}, outcomes
    (paid,) = [reply.body for reply in replies if reply.status == 201]
    assert paid["balances"]["nq"]["available"] == 400


def test_twenty_concurrent_payments_spend_exactly_the_balance(moto_server):
    main = lambda_container()
    _funded(main)
    replies = _payments("30.00", 20)  # 300 points each: three fit in 1000
    outcomes = Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)
    assert outcomes == {(201, None): 3, (409, "insufficient_points"): 17}, outcomes
    after = sorted(reply.body["balances"]["nq"]["available"] for reply in replies if reply.status == 201)
    assert after == [100, 400, 700]
    view = call("api_get_member", TILL, handler=main)
    assert view.body["balances"]["nq"]["available"] == 100
    entries = ledger(main, SHOP)
    assert_running_balances(entries)
    assert all(entry["nq_balance"] >= 0 for entry in entries)
    assert [entry["kind"] for entry in entries] == ["earn"] + ["payment"] * 3
    stored, _ = default_context().members.load("demo", CARD, [])
    assert stored is not None and all(lot.points >= 0 for lot in stored.lots)
