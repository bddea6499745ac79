"""Earning rules through the real API handler on moto: a program with rules, orders with lines."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ADMIN, SHOP, order_body
from tests.support.api import call

RULES = [
    {"sku": "SKU-1", "points_per_unit": 500},
    {"product_group": "wine", "multiplier": "2"},
    {"product_group": "tobacco", "points_per_unit": 0},
]


def spec(program: dict, **overrides) -> dict:
    internal = {"program_id", "created_at", "updated_at", "version"}
    return {k: v for k, v in program.items() if k not in internal} | overrides


@pytest.fixture
def ruled(member, program) -> dict:
    """The sample program (NQ 10/EUR, Q 1/EUR, rounded down) with RULES, and an enrolled member."""
    reply = call("api_put_program", ADMIN, body=spec(program, earning_rules=RULES))
    assert reply.status == 200, reply.body
    return reply.body


def test_a_program_keeps_its_rules(ruled):
    assert call("api_get_program", ADMIN).body["earning_rules"] == [
        {
            "sku": "SKU-1",
            "product_group": None,
            "customer_group": None,
            "points_per_unit": 500,
            "multiplier": None,
        },
        {
            "sku": None,
            "product_group": "wine",
            "customer_group": None,
            "points_per_unit": None,
            "multiplier": "2",
        },
        {
            "sku": None,
            "product_group": "tobacco",
            "customer_group": None,
            "points_per_unit": 0,
            "multiplier": None,
        },
    ]
    again = call("api_put_program", ADMIN, body=spec(ruled))
    assert again.status == 200 and again.body["version"] == ruled["version"]  # a replay changes nothing


def test_an_order_with_lines_earns_by_the_rules(ruled):
    body = order_body(
        order_id="WEB-RULES",
        amount="129.90",
        lines=[
            {
                "sku": "SKU-1",
                "quantity": 1,
                "amount": "49.90",
                "product_group": "wine",
            },  # SKU rule: 500 / 500
            {"sku": "SKU-7", "quantity": 2, "amount": "30.00", "product_group": "wine"},  # x2: 600 / 60
            {"sku": "SKU-8", "quantity": 1, "amount": "20.00", "product_group": "tobacco"},  # 0 / 0
            {"sku": "SKU-9", "quantity": 3, "amount": "30.00"},  # no rule: 300 / 30
        ],
    )
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    assert (reply.body["earned"]["nq"], reply.body["earned"]["q"]) == (1400, 590)
    balances = call("api_get_member", SHOP).body["balances"]
    assert balances["nq"]["available"] == 1400 and balances["q"]["valid"] == 590
    # a return stays proportional to the order's amount: floor(1400 x 30 / 129.9) = 323
    returned = call("api_return_order", SHOP, path={"order_id": "WEB-RULES"})
    assert returned.status == 201, returned.body
    assert returned.body["reversed"] == {"nq": 323, "q": 136, "unrecovered": 0}


def test_the_tier_multiplier_applies_to_rule_lines(ruled):
    assert call("api_grant_vip_tier", ADMIN).status == 200  # staff: NQ x2, Q x1
    # placed after the grant (an order placed before it earns without it: see test_late_orders)
    body = order_body(
        ordered_at="2026-12-10T12:00:00Z", lines=[{"sku": "SKU-1", "quantity": 2, "amount": "129.90"}]
    )
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    assert (reply.body["earned"]["nq"], reply.body["earned"]["q"]) == (2000, 1000)


def test_an_order_without_lines_earns_as_before(ruled):
    reply = call("api_earn_order", SHOP, body=order_body(lines=[]))
    assert reply.status == 201, reply.body
    assert (reply.body["earned"]["nq"], reply.body["earned"]["q"]) == (1299, 129)


def test_lines_without_a_matching_rule_earn_by_their_amount(ruled):
    reply = call("api_earn_order", SHOP)  # the sample order: SKU-2 (no rule) and SKU-1 (500/unit)
    assert reply.status == 201, reply.body
    # SKU-1: 500 NQ, 500 Q; SKU-2: 30.00 EUR: 300 NQ, 30 Q
    assert (reply.body["earned"]["nq"], reply.body["earned"]["q"]) == (800, 530)


def test_lines_that_do_not_add_up_are_refused_and_change_nothing(ruled):
    body = order_body(lines=[{"sku": "SKU-9", "quantity": 1, "amount": "100.00"}])
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 422
    assert reply.body["code"] == "lines_do_not_match_amount"
    assert reply.body["details"] == [
        {"field": "lines", "reason": "lines_do_not_match_amount", "lines_total": "100.00", "amount": "129.90"}
    ]
    assert call("api_get_member", SHOP).body["balances"]["nq"]["available"] == 0
    fixed = order_body(lines=[{"sku": "SKU-9", "quantity": 1, "amount": "129.9"}])
    assert call("api_earn_order", SHOP, body=fixed).status == 201  # the same order id, now valid


def test_a_program_without_rules_ignores_the_lines(member):
    body = order_body(lines=[{"sku": "SKU-1", "quantity": 1, "amount": "1.00"}])  # do not add up
    reply = call("api_earn_order", SHOP, body=body)
    assert reply.status == 201, reply.body
    assert (reply.body["earned"]["nq"], reply.body["earned"]["q"]) == (1299, 129)


def test_a_program_whose_products_without_a_rule_earn_nothing(ruled, member):
    assert ruled["products_without_rule"] == "earn_by_amount"  # the default: today's behaviour
    reply = call("api_put_program", ADMIN, body=spec(ruled, products_without_rule="earn_nothing"))
    assert reply.status == 200 and reply.body["products_without_rule"] == "earn_nothing", reply.body
    earned = call("api_earn_order", SHOP)  # the sample order: SKU-1 (500/unit) and SKU-2 (no rule)
    assert earned.status == 201, earned.body
    assert (earned.body["earned"]["nq"], earned.body["earned"]["q"]) == (500, 500)  # SKU-2 earns nothing
    without_lines = call("api_earn_order", SHOP, body=order_body(order_id="WEB-NO-LINES", lines=[]))
    assert (without_lines.status, without_lines.body["code"]) == (422, "lines_required")
    assert without_lines.body["details"] == [{"field": "lines", "reason": "lines_required"}]
    balances = call("api_get_member", SHOP).body["balances"]
    assert (balances["nq"]["available"], balances["q"]["valid"]) == (500, 500)  # only the first order
    returned = call(
        "api_return_order",
        SHOP,
        path={"order_id": "WEB-100045"},
        body={"return_id": "R-1", "amount": "30.00"},
    )
    assert returned.status == 201, returned.body
    assert returned.body["reversed"] == {"nq": 115, "q": 115, "unrecovered": 0}  # floor(500 x 30 / 129.9)


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"sku": "SKU-1", "points_per_unit": 1}, {"sku": "SKU-1", "multiplier": "2"}], "earning_rules"),
        (
            [{"product_group": "wine", "multiplier": "2"}, {"product_group": "wine", "multiplier": "3"}],
            "earning_rules",
        ),
        ([{"sku": "SKU-1", "product_group": "wine", "multiplier": "2"}], "earning_rules.0"),
        ([{"sku": "SKU-1", "points_per_unit": 1, "multiplier": "2"}], "earning_rules.0"),
        ([{"sku": "SKU-1", "multiplier": "0"}], "earning_rules.0"),  # 0 only in a customer-group rule
        ([{"sku": "SKU-1", "multiplier": "-1"}], "earning_rules.0.multiplier"),
        ([{"customer_group": "staff", "points_per_unit": 0}], "earning_rules.0"),
        ([{"customer_group": "staff"}], "earning_rules.0"),
        (
            [{"customer_group": "staff", "multiplier": "0"}, {"customer_group": "staff", "multiplier": "2"}],
            "earning_rules",
        ),
    ],
)
def test_invalid_rules_are_refused(program, rules, field):
    reply = call("api_put_program", ADMIN, body=spec(program, earning_rules=rules))
    assert reply.status == 422, reply.body
    assert reply.body["code"] == "validation_error"
    assert [detail["field"] for detail in reply.body["details"]] == [field]
    assert call("api_get_program", ADMIN).body["earning_rules"] == []
