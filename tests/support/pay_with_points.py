"""The program, the merchant keys (tills) and the acceptor group of the pay-with-points tests
(seed 004), the world they pay in, and their requests (a test module imports none of another)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, order_body
from tests.support.api import Reply, call, load_event
from tests.support.clock import FakeClock

ACCEPTORS = "points-acceptors"


def till(merchant_id: str | None) -> Caller:
    return Caller(
        group_id="demo", key_id="01JD0000000000000000000021", scopes=("shop",), merchant_id=merchant_id
    )


TILL = till("till-1")
OTHER_TILL = till("till-2")
OUTSIDER = till("outsider")
GHOST = till("ghost")
NO_MERCHANT = till(None)


def program_body(**overrides: Any) -> dict[str, Any]:
    body = json.loads(load_event("api_put_program")["body"])
    body["payment"] = {"rate": "10", "currency": "EUR", "acceptor_merchant_group": ACCEPTORS}
    return {**body, **overrides}


def put_merchant(merchant_id: str, groups: list[str]) -> None:
    body = {"name": merchant_id, "store_id": f"S-{merchant_id}", "merchant_groups": groups}
    reply = call("api_put_merchant", ADMIN, path={"merchant_id": merchant_id}, body=body)
    assert reply.status in (200, 201), reply.body


def earn(order_id: str, amount: str, ordered_at: datetime) -> None:
    body = order_body(order_id=order_id, amount=amount, ordered_at=ordered_at.isoformat(), lines=[])
    reply = call("api_earn_order", TILL, body=body)
    assert reply.status == 201, reply.body


def payments_world() -> FakeClock:
    """On the fresh table: a fake clock, the merchant groups and merchants (till-1 and till-2
    accept, outsider does not), the program that pays at 10 points a euro, and the sample member."""
    fake = FakeClock()
    default_context().clock = fake
    for merchant_group_id in (ACCEPTORS, "elsewhere"):
        reply = call(
            "api_put_merchant_group", ADMIN, path={"merchant_group_id": merchant_group_id}, body={"name": "G"}
        )
        assert reply.status == 201, reply.body
    put_merchant("till-1", [ACCEPTORS])
    put_merchant("till-2", [ACCEPTORS, "elsewhere"])
    put_merchant("outsider", ["elsewhere"])
    assert call("api_put_program", ADMIN, body=program_body()).status == 201
    assert call("api_enrol_member", TILL).status == 201
    return fake


def pay(payment_id: str, amount: str, caller: Caller = TILL, **overrides: Any) -> Reply:
    body = {"payment_id": payment_id, "program_id": "club", "amount": amount, "currency": "EUR", **overrides}
    return call("api_pay_points", caller, body=body)


def reverse(payment_id: str, reversal_id: str, amount: str | None = None, caller: Caller = TILL) -> Reply:
    body: dict[str, Any] = {"reversal_id": reversal_id} | ({"amount": amount} if amount else {})
    return call(
        "api_reverse_points_payment",
        caller,
        path={"card_code": CARD, "payment_id": payment_id},
        body=body,
    )
