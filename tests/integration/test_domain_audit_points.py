"""Points as an auditor who read only DOMAIN.md, the seeds and docs/decisions.md checks them, through
the real API handler on moto, with exact numbers. Each test quotes the rule it checks; the cases
already covered elsewhere (rounding, tier and VIP multipliers, burns' order, returns after expiry)
are not repeated here."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import call, load_event


def _earn(order_id: str, ordered_at: str, amount: str) -> dict:
    body = order_body(order_id=order_id, ordered_at=ordered_at, amount=amount, lines=[])
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    return reply.body


def _program(**changes) -> dict:
    spec = json.loads(load_event("api_put_program")["body"])
    for path, value in changes.items():
        node = spec
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return spec


def test_return_after_a_burn_takes_what_its_lot_lost_to_the_burn_from_other_lots(member, clock):
    """decisions.md: a return takes from the order's own lot first; what it no longer holds
    because it was spent is taken from other lots."""
    _earn("A", "2026-11-20T10:00:00+01:00", "129.90")  # 1299 NQ, expires 2027-11-20
    _earn("B", "2026-11-21T10:00:00+01:00", "200.00")  # 2000 NQ, expires 2027-11-21
    burn = call("api_burn_points", SHOP, body={"points": 1299, "burn_id": "B-1"})
    assert burn.status == 201, burn.body
    ret = call("api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": "R-A"})
    assert ret.status == 201, ret.body
    assert ret.body["reversed"] == {"nq": 1299, "q": 129, "unrecovered": 0}
    assert ret.body["balances"]["nq"]["available"] == 701


def test_partial_returns_add_up_to_what_the_order_earned(member, clock):
    """DOMAIN.md: returns reverse what an order earned, proportionally for partial returns;
    decisions.md: floor(earned x returned / amount), cumulatively."""
    _earn("A", "2026-11-20T10:00:00+01:00", "10.00")  # 100 NQ 10 Q
    got = []
    for n in range(3):
        r = call(
            "api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": f"R{n}", "amount": "3.33"}
        )
        assert r.status == 201, r.body
        got.append((r.body["reversed"]["nq"], r.body["reversed"]["q"]))
    last = call("api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": "R9"})
    got.append((last.body["reversed"]["nq"], last.body["reversed"]["q"]))
    assert got == [(33, 3), (33, 3), (33, 3), (1, 1)]
    assert last.body["balances"]["nq"]["available"] == 0


def test_max_balance_counts_pending_points(program, member, clock):
    """DOMAIN.md: the excess over the maximum balance is not credited and the ledger says so;
    decisions.md: the maximum counts pending points."""
    spec = _program(nq_points__max_balance=1500)
    assert call("api_put_program", ADMIN, body=spec).status == 200
    clock.advance(days=1)
    first = _earn("P1", clock.now.isoformat(), "100.00")["earned"]  # 1000 pending
    assert (first["nq"], first["nq_not_credited"]) == (1000, 0)
    second = _earn("P2", clock.now.isoformat(), "100.00")["earned"]
    assert (second["nq"], second["nq_not_credited"]) == (500, 500)


def test_expiry_is_at_the_lot_instant(member, clock):
    """DOMAIN.md: expiry removes what is left of a lot; the lot of an order placed at 23:30 GMT+1
    expires a year later at that instant (22:30 UTC), not at a day boundary."""
    _earn("A", "2026-11-20T23:30:00+01:00", "10.00")  # expires 2027-11-20T22:30Z
    clock.now = datetime(2027, 11, 20, 22, 29, 59, tzinfo=UTC)
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 100
    clock.now = datetime(2027, 11, 20, 22, 30, tzinfo=UTC)
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 0


def test_a_return_in_a_program_without_validity_takes_back_what_the_order_earned(program, member, clock):
    """decisions.md: lots that never expire are merged; a return still takes back what its order
    earned (its lot merged into another is not an expired one)."""
    spec = _program()
    del spec["nq_points"]["validity"], spec["q_points"]["validity"], spec["nq_points"]["holding_period"]
    assert call("api_put_program", ADMIN, body=spec).status == 200, spec
    clock.advance(days=1)
    _earn("A", clock.now.isoformat(), "100.00")  # 1000 NQ 100 Q, available at once, never expire
    _earn("B", clock.now.isoformat(), "50.00")  # merged with A's lot
    ret = call("api_return_order", SHOP, path={"order_id": "A"}, body={"return_id": "R-A"})
    assert ret.status == 201, ret.body
    assert ret.body["reversed"] == {"nq": 1000, "q": 100, "unrecovered": 0}
    assert ret.body["balances"]["nq"]["available"] == 500


def test_a_return_of_an_order_cut_by_the_maximum_balance_takes_back_only_what_was_credited(
    program, member, clock
):
    """DOMAIN.md: returns reverse what an order earned: what was credited, not what the maximum
    balance refused."""
    spec = _program(nq_points__max_balance=1500)
    assert call("api_put_program", ADMIN, body=spec).status == 200
    clock.advance(days=1)
    _earn("P1", clock.now.isoformat(), "100.00")  # 1000
    second = _earn("P2", clock.now.isoformat(), "100.00")["earned"]
    assert (second["nq"], second["nq_not_credited"]) == (500, 500)
    ret = call(
        "api_return_order", SHOP, path={"order_id": "P2"}, body={"return_id": "R-2", "amount": "50.00"}
    )
    assert ret.status == 201, ret.body
    assert ret.body["reversed"]["nq"] == 250  # half of the 500 credited
    ret = call("api_return_order", SHOP, path={"order_id": "P2"}, body={"return_id": "R-3"})
    assert ret.body["reversed"]["nq"] == 250
    assert ret.body["balances"]["nq"]["pending"] == 1000  # P1's points untouched


def test_orders_and_returns_take_amounts_to_the_same_four_decimals(member, clock):
    """DOMAIN.md and the seeds give no precision for an order's amount; decisions.md: orders, their
    lines and returns take amounts of up to four decimals alike, so whatever an order was placed
    for can be returned in parts, and a finer amount is refused on both, changing nothing."""
    body = order_body(order_id="F", ordered_at="2026-11-20T10:00:00+01:00", amount="10.00001", lines=[])
    refused = call("api_earn_order", SHOP, body=body)
    assert (refused.status, refused.body["code"]) == (422, "validation_error"), refused.body
    _earn("A", "2026-11-20T10:00:00+01:00", "10.0005")  # 100 NQ 10 Q
    path = {"order_id": "A"}
    refused = call("api_return_order", SHOP, path=path, body={"return_id": "R0", "amount": "0.00001"})
    assert (refused.status, refused.body["code"]) == (422, "validation_error"), refused.body
    tiny = call("api_return_order", SHOP, path=path, body={"return_id": "R1", "amount": "0.0005"})
    assert tiny.status == 201, tiny.body
    assert (tiny.body["reversed"], tiny.body["order_returned_amount"]) == (
        {"nq": 0, "q": 0, "unrecovered": 0},
        "0.0005",
    )
    rest = call("api_return_order", SHOP, path=path, body={"return_id": "R2", "amount": "10.00"})
    assert rest.status == 201, rest.body
    assert (rest.body["reversed"]["nq"], rest.body["balances"]["nq"]["pending"]) == (100, 0)
