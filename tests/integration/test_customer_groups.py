"""Customer groups have an effect (seed 004), through the real APIs on moto: a group's customers
listed a page at a time and kept in step with the customers' groups; earning rules that target a
customer group (staff earn nothing, a club earns double), with their precedence; the member's
copy of its customer's groups kept in step, at no cost to the earn."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loyalty_engine.kernel.dynamo import client
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import Reply, call, load_event
from tests.support.earning_rules import CUSTOMER_GROUP_RULES as RULES


def put_group(customer_group_id: str) -> None:
    reply = call(
        "api_put_customer_group", ADMIN, path={"customer_group_id": customer_group_id}, body={"name": "G"}
    )
    assert reply.status in (200, 201), reply.body


def put_customer(customer_id: str, groups: list[str]) -> Reply:
    reply = call(
        "api_put_customer",
        ADMIN,
        path={"customer_id": customer_id},
        body={"first_name": customer_id, "customer_groups": groups},
    )
    assert reply.status in (200, 201), reply.body
    return reply


def link(customer_id: str) -> None:
    reply = call("api_link_card_customer", ADMIN, body={"customer_id": customer_id})
    assert reply.status == 200, reply.body


def members_of(customer_group_id: str, limit: int = 50, cursor: str | None = None) -> Reply:
    query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
    return call(
        "api_list_customer_group_customers",
        ADMIN,
        path={"customer_group_id": customer_group_id},
        query=query,
    )


def all_members(customer_group_id: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        reply = members_of(customer_group_id, limit, cursor)
        assert reply.status == 200, reply.body
        assert len(reply.body["customers"]) <= limit
        ids += [c["customer_id"] for c in reply.body["customers"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return ids


def earn(
    order_id: str, amount: str = "10.00", lines: list[dict[str, Any]] | None = None, **more: Any
) -> dict[str, Any]:
    body = order_body(order_id=order_id, amount=amount, lines=lines or [], **more)
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    return reply.body["earned"]  # type: ignore[no-any-return]


@pytest.fixture
def grouped(member, program) -> None:
    """The sample program (NQ 10/EUR, Q 1/EUR) with RULES; groups staff, club, vip; the member's
    card linked to customer c-1001 (in no group yet)."""
    body = {
        k: v for k, v in program.items() if k not in {"program_id", "created_at", "updated_at", "version"}
    }
    assert call("api_put_program", ADMIN, body=body | {"earning_rules": RULES}).status == 200
    for customer_group_id in ("staff", "club", "vip"):
        put_group(customer_group_id)
    put_customer("c-1001", [])
    link("c-1001")


def customer_groups_of_member() -> list[str]:
    return call("api_get_member", SHOP).body["customer_groups"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------ group lists
def test_a_groups_customers_are_listed_a_page_at_a_time(grouped):
    for n in range(7):
        put_customer(f"c-{n}", ["club"] if n % 2 else ["club", "vip"])
    expected = sorted(f"c-{n}" for n in range(7))
    assert all_members("club", 3) == expected
    assert all_members("club", 200) == expected
    assert all_members("vip", 2) == ["c-0", "c-2", "c-4", "c-6"]
    assert all_members("staff", 5) == []
    first = members_of("club", 3)
    assert first.body["next_cursor"] and len(first.body["customers"]) == 3
    # a customer that leaves a group leaves its list; one that joins it, joins
    put_customer("c-0", ["staff"])
    assert all_members("club", 2) == expected[1:]
    assert all_members("vip", 2) == ["c-2", "c-4", "c-6"]
    assert all_members("staff", 2) == ["c-0"]
    put_customer("c-0", ["staff"])  # the same again changes nothing
    assert all_members("staff", 2) == ["c-0"]


def test_list_refusals(grouped):
    reply = members_of("nobody")
    assert (reply.status, reply.body["code"]) == (404, "customer_group_not_found")
    reply = members_of("club", cursor="bm90LWEtY3Vyc29y")
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor")
    other = call(
        "api_list_customer_group_customers",
        ADMIN.model_copy(update={"group_id": "demo-b"}),
        path={"customer_group_id": "club"},
    )
    assert (other.status, other.body["code"]) == (404, "customer_group_not_found")


# -------------------------------------------------------------------- the member's copy
def test_the_members_groups_follow_its_customer(grouped):
    assert customer_groups_of_member() == []
    put_customer("c-1001", ["staff", "vip"])
    assert customer_groups_of_member() == ["staff", "vip"]
    put_customer("c-1001", ["club"])
    assert customer_groups_of_member() == ["club"]
    put_customer("c-2", ["vip"])
    link("c-2")  # the card moves to another customer: it takes that customer's groups
    assert customer_groups_of_member() == ["vip"]
    customer = call("api_get_customer", ADMIN, path={"customer_id": "c-1001"}).body
    assert customer["links"]["card_codes"] == []
    put_customer("c-1001", ["staff"])  # the customer the card left no longer speaks for it
    assert customer_groups_of_member() == ["vip"]


# ------------------------------------------------------------------------------- earning
def test_staff_earn_nothing_and_a_club_earns_double(grouped):
    assert earn("O-PLAIN") == earn("O-PLAIN") and earn("O-PLAIN")["nq"] == 100  # no group: 10 x 10
    put_customer("c-1001", ["staff"])
    staff = earn("O-STAFF")
    assert (staff["nq"], staff["q"]) == (0, 0)
    put_customer("c-1001", ["club"])
    club = earn("O-CLUB")
    assert (club["nq"], club["q"]) == (200, 20)
    put_customer("c-1001", [])
    assert earn("O-AGAIN")["nq"] == 100
    ledger = call("api_get_ledger", SHOP).body["entries"]
    assert [(e["reference"], e["nq"]) for e in ledger] == [
        ("O-AGAIN", 100),
        ("O-CLUB", 200),
        ("O-STAFF", 0),
        ("O-PLAIN", 100),
    ]


def test_rule_precedence(grouped):
    lines = [
        {"sku": "SKU-1", "quantity": 1, "amount": "5.00"},
        {"sku": "SKU-2", "quantity": 1, "amount": "5.00"},
    ]
    # no group: SKU-1 the general rule (50), SKU-2 by amount (50)
    assert earn("O-1", lines=lines)["nq"] == 100
    # vip: SKU-1 the vip rule (70) over the general one
    put_customer("c-1001", ["vip"])
    assert earn("O-2", lines=lines)["nq"] == 120
    # club and vip: the first customer-group rule in the program's order applies (club: x2); for
    # SKU-1 the first of the member's groups' SKU rules in the program's order (vip: 70)
    put_customer("c-1001", ["club", "vip"])
    assert earn("O-3", lines=lines)["nq"] == (70 + 50) * 2
    # staff comes before club in the program: staff and club earn nothing
    put_customer("c-1001", ["club", "staff"])
    assert earn("O-4", lines=lines)["nq"] == 0


def test_a_group_change_costs_the_earn_no_round_trip(grouped, clock):
    put_customer("c-1001", ["club"])
    now = clock.advance(hours=1).isoformat()  # an order on time: placed after the program was saved
    assert earn("O-WARM", ordered_at=now)["nq"] == 200  # the program is cached now
    calls: list[str] = []
    client().meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    assert earn("O-COUNTED", ordered_at=now)["nq"] == 200
    assert calls == ["Query", "TransactWriteItems"]


def test_the_sample_events_link_and_list(grouped):
    assert call("api_put_customer", ADMIN).status == 200  # c-1001 in vip (the sample)
    reply = call("api_list_customer_group_customers", ADMIN)
    assert reply.status == 200, reply.body
    assert reply.body == {"customers": [{"customer_id": "c-1001"}], "next_cursor": None}
    assert (
        json.loads(load_event("api_put_customer")["body"])["customer_groups"] == customer_groups_of_member()
    )
    assert CARD in call("api_get_customer", ADMIN).body["links"]["card_codes"]
