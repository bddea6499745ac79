"""Earning rules that target a customer group: validation, the choice of rule, and properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from loyalty_engine.points.members import Member
from loyalty_engine.points.orders import (
    OrderLine,
    OrderRequest,
    customer_group_rule,
    match_rules,
    points_for_order,
)
from loyalty_engine.points.programs import EarningRule
from tests.support.earning_rules import NOW, program


def rule(**fields: Any) -> EarningRule:
    return EarningRule.model_validate(fields)


def member_in(*groups: str) -> Member:
    return Member(
        card_code="CARD-0001",
        program_id="club",
        subscribed_at=NOW,
        created_at=NOW,
        tier_rank=1,
        customer_groups=list(groups),
    )


def a_line(sku: str, group: str | None = None) -> OrderLine:
    return OrderLine(sku=sku, quantity=1, amount=Decimal(1), product_group=group)


@pytest.mark.parametrize(
    "fields",
    [
        {"customer_group": "staff", "multiplier": "0"},
        {"customer_group": "club", "multiplier": "2"},
        {"sku": "A", "customer_group": "club", "points_per_unit": 5},
        {"product_group": "wine", "customer_group": "club", "multiplier": "1.5"},
    ],
)
def test_valid_customer_group_rules(fields):
    assert rule(**fields).customer_group == fields["customer_group"]


@pytest.mark.parametrize(
    "fields",
    [
        {"customer_group": "staff"},  # no effect
        {"customer_group": "staff", "points_per_unit": 0},  # a group rule multiplies
        {"sku": "A", "customer_group": "club", "multiplier": "0"},  # 0 only for a whole group
        {"customer_group": "Not A Slug", "multiplier": "2"},
        {"customer_group": "club", "multiplier": "101"},
        {"multiplier": "2"},  # no selector at all
    ],
)
def test_invalid_customer_group_rules(fields):
    with pytest.raises(ValidationError):
        rule(**fields)


def test_the_first_group_rule_in_the_programs_order_applies():
    rules = [rule(customer_group="staff", multiplier="0"), rule(customer_group="club", multiplier="2")]
    assert customer_group_rule(rules, ["club", "staff"]) is rules[0]
    assert customer_group_rule(rules, ["club"]) is rules[1]
    assert customer_group_rule(rules, ["vip"]) is None
    assert customer_group_rule(rules, []) is None


def test_a_groups_product_rule_wins_over_the_general_one_and_the_sku_over_the_product_group():
    general = rule(sku="A", points_per_unit=1)
    vip = rule(sku="A", customer_group="vip", points_per_unit=2)
    club = rule(sku="A", customer_group="club", points_per_unit=3)
    wine_club = rule(product_group="wine", customer_group="club", multiplier="2")
    rules = [general, vip, club, wine_club]
    lines = [a_line("A", "wine"), a_line("B", "wine")]
    assert [r for _, r in match_rules(lines, rules, [])] == [general, None]
    assert [r for _, r in match_rules(lines, rules, ["club"])] == [club, wine_club]
    assert [r for _, r in match_rules(lines, rules, ["club", "vip"])] == [vip, wine_club]
    assert [r for _, r in match_rules(lines, rules, ["vip", "club"])] == [vip, wine_club]  # program order


amounts = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)


def an_order(amount: Decimal, with_lines: bool) -> OrderRequest:
    lines = [{"sku": "A", "quantity": 2, "amount": str(amount)}] if with_lines else []
    return OrderRequest.model_validate(
        {"order_id": "O-1", "amount": str(amount), "currency": "EUR", "ordered_at": NOW, "lines": lines}
    )


@settings(max_examples=200, deadline=None)
@given(amount=amounts, with_lines=st.booleans(), fixed=st.booleans())
def test_staff_earn_nothing_and_members_outside_every_group_earn_as_without_group_rules(
    amount, with_lines, fixed
):
    product = {"sku": "A", "points_per_unit": 7} if fixed else {"sku": "A", "multiplier": "1.5"}
    grouped = program(
        [
            {"customer_group": "staff", "multiplier": "0"},
            {"customer_group": "club", "multiplier": "2"},
            product,
        ]
    )
    plain = program([product])
    order = an_order(amount, with_lines)
    assert points_for_order(order, member_in("staff"), grouped) == (0, 0)
    assert points_for_order(order, member_in("other"), grouped) == points_for_order(order, member_in(), plain)
    single = points_for_order(order, member_in(), plain)
    double = points_for_order(order, member_in("club"), grouped)
    assert all(d >= 2 * s for d, s in zip(double, single, strict=True))  # rounded down: never less than twice
