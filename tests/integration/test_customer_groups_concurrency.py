"""Changes of a customer's groups racing each other and the member's earns, against a moto server
(see test_concurrency.py): the member's copy of the groups and the groups' lists end in step
with the customer, and every earn used the groups of one moment."""

from __future__ import annotations

from collections.abc import Callable

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import Reply, call, lambda_container, load_event
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once
from tests.support.earning_rules import CUSTOMER_GROUP_RULES as RULES


def test_group_changes_racing_earns_end_in_step(moto_server):
    default_context().clock = FakeClock()
    points = lambda_container()
    instruments = lambda_container("loyalty_engine.handlers.instrument_api")
    program = call("api_put_program", ADMIN, handler=points).body
    internal = {"program_id", "created_at", "updated_at", "version"}
    body = {k: v for k, v in program.items() if k not in internal} | {"earning_rules": RULES}
    assert call("api_put_program", ADMIN, body=body, handler=points).status == 200
    assert call("api_enrol_member", SHOP, handler=points).status == 201
    for group_id in ("staff", "club"):
        path = {"customer_group_id": group_id}
        assert (
            call("api_put_customer_group", ADMIN, path=path, body={"name": "G"}, handler=instruments).status
            == 201
        )
    customer = {"first_name": "Ada", "customer_groups": []}
    assert call("api_put_customer", ADMIN, body=customer, handler=instruments).status == 201
    assert call("api_link_card_customer", ADMIN, handler=instruments).status == 200
    customer_id = load_event("api_put_customer")["pathParameters"]["customer_id"]

    handlers = [lambda_container("loyalty_engine.handlers.instrument_api") for _ in range(8)]
    earners = [lambda_container() for _ in range(8)]

    def change(n: int) -> Callable[[], Reply]:
        groups = [["staff"], ["club"], ["staff", "club"], []][n % 4]
        return lambda: call(
            "api_put_customer", ADMIN, body={**customer, "customer_groups": groups}, handler=handlers[n]
        )

    def earn(n: int) -> Callable[[], Reply]:
        body = order_body(order_id=f"O-{n}", amount="10.00", lines=[])
        return lambda: call("api_earn_order", SHOP, body=body, handler=earners[n])

    replies = all_at_once([change(n) for n in range(8)] + [earn(n) for n in range(8)])
    assert {reply.status for reply in replies} <= {200, 201}, [r.body for r in replies if r.status >= 300]
    # each earn saw the groups of one moment: none (100), staff (0), club (200)
    assert {reply.body["earned"]["nq"] for reply in replies[8:]} <= {0, 100, 200}

    final = call("api_get_customer", ADMIN, handler=instruments).body
    member = call("api_get_member", SHOP, handler=points).body
    assert member["customer_groups"] == final["customer_groups"]
    for group_id in ("staff", "club"):
        listed = call(
            "api_list_customer_group_customers",
            ADMIN,
            path={"customer_group_id": group_id},
            handler=instruments,
        ).body["customers"]
        assert ([{"customer_id": customer_id}] if group_id in final["customer_groups"] else []) == listed
