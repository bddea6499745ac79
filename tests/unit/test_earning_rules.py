"""Earning rules per SKU and product group: validation, and the points of orders with lines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.points.orders import points_for_order
from loyalty_engine.points.programs import EarningRule, ProgramSpec
from tests.support.earning_rules import line, member, order, program

# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"sku": "SKU-1", "points_per_unit": 50},
        {"sku": "SKU-1", "points_per_unit": 0},
        {"sku": "x" * 64, "points_per_unit": 1_000_000},
        {"product_group": "wine", "multiplier": "2"},
        {"product_group": "wine", "multiplier": "0.001"},
        {"product_group": "wine", "multiplier": "100"},
        {"product_group": "wine", "multiplier": "1.125"},
    ],
)
def test_valid_rules(rule):
    assert EarningRule.model_validate(rule).model_dump(exclude_none=True).keys() == rule.keys()


@pytest.mark.parametrize(
    "rule",
    [
        {"points_per_unit": 5},  # no selector
        {"sku": "A", "product_group": "g", "points_per_unit": 5},  # two selectors
        {"sku": "A"},  # no effect
        {"sku": "A", "points_per_unit": 5, "multiplier": "2"},  # two effects
        {"sku": "", "points_per_unit": 5},
        {"sku": "x" * 65, "points_per_unit": 5},
        {"product_group": "", "multiplier": "2"},
        {"sku": "A", "points_per_unit": -1},
        {"sku": "A", "points_per_unit": 1_000_001},
        {"sku": "A", "multiplier": "0"},
        {"sku": "A", "multiplier": "-1"},
        {"sku": "A", "multiplier": "100.001"},
        {"sku": "A", "multiplier": "1.0005"},  # 4 decimal places
        {"sku": "A", "points_per_unit": 5, "bonus": 1},  # unknown field
    ],
)
def test_invalid_rules(rule):
    with pytest.raises(ValidationError):
        EarningRule.model_validate(rule)


def test_a_program_has_no_rules_by_default():
    assert program().earning_rules == []


def test_two_rules_for_the_same_sku_are_refused():
    with pytest.raises(ValidationError, match="more than one earning rule for sku 'A'"):
        program([{"sku": "A", "points_per_unit": 1}, {"sku": "A", "multiplier": "2"}])


def test_two_rules_for_the_same_group_are_refused():
    with pytest.raises(ValidationError, match="more than one earning rule for product_group 'wine'"):
        program([{"product_group": "wine", "multiplier": "2"}, {"product_group": "wine", "multiplier": "3"}])


def test_a_sku_and_a_group_may_share_a_name():
    rules = program([{"sku": "wine", "points_per_unit": 1}, {"product_group": "wine", "multiplier": "2"}])
    assert len(rules.earning_rules) == 2


def test_at_most_500_rules():
    rules = [{"sku": f"SKU-{n}", "points_per_unit": 1} for n in range(501)]
    with pytest.raises(ValidationError):
        program(rules)
    assert len(program(rules[:500]).earning_rules) == 500


def test_rules_survive_a_json_round_trip():
    spec = program([{"sku": "A", "points_per_unit": 5}, {"product_group": "wine", "multiplier": "1.5"}])
    again = ProgramSpec.model_validate(spec.model_dump(mode="json", include=set(ProgramSpec.model_fields)))
    assert again.earning_rules == spec.earning_rules


# --- points of an order -------------------------------------------------------------------

RULES = [
    {"sku": "BOTTLE-1", "points_per_unit": 50},
    {"product_group": "wine", "multiplier": "2"},
    {"product_group": "tobacco", "points_per_unit": 0},
]


def test_each_line_earns_by_its_rule_or_by_its_amount():
    result = points_for_order(
        order(
            "100.00",
            line("BOTTLE-1", 2, "30.00", "wine"),  # SKU rule wins: 2 x 50 NQ, 2 x 50 Q
            line("BOTTLE-2", 1, "20.00", "wine"),  # group x2: 20 x 10 x 2 = 400 NQ; 20 x 1 x 2 = 40 Q
            line("CIGS", 3, "15.00", "tobacco"),  # 0 points per unit: nothing
            line("BREAD", 1, "35.00"),  # no rule: 350 NQ, 35 Q
        ),
        member(),
        program(RULES),
    )
    assert result == (100 + 400 + 0 + 350, 100 + 40 + 0 + 35)


def test_a_sku_rule_wins_over_its_group_rule_whatever_the_order_of_the_rules():
    rules = [{"product_group": "wine", "multiplier": "3"}, {"sku": "BOTTLE-1", "multiplier": "2"}]
    result = points_for_order(order("10", line("BOTTLE-1", 1, "10", "wine")), member(), program(rules))
    assert result == (200, 20)


def test_skus_and_groups_match_exactly():
    result = points_for_order(
        order("20", line("bottle-1", 1, "10", "Wine"), line("BOTTLE-1 ", 1, "10")), member(), program(RULES)
    )
    assert result == (200, 20)  # no rule matched: amount-based


@pytest.mark.parametrize(("tier_rank", "vip", "nq_multiplier"), [(1, (), 1), (2, (), 2), (3, (), "1.5")])
def test_the_tier_multiplier_applies_to_every_kind_of_line(tier_rank, vip, nq_multiplier):
    nq_multiplier = Decimal(nq_multiplier)
    q_multiplier = tier_rank  # Q multipliers default to the rank
    result = points_for_order(
        order(
            "60",
            line("BOTTLE-1", 2, "10", "wine"),  # 2 x 50 x tier
            line("BOTTLE-2", 1, "20", "wine"),  # 20 x rate x 2 x tier
            line("BREAD", 1, "30"),  # 30 x rate x tier
        ),
        member(tier_rank, vip),
        program(RULES),
    )
    assert result == (
        int(100 * nq_multiplier) + int(400 * nq_multiplier) + int(300 * nq_multiplier),
        100 * q_multiplier + 40 * q_multiplier + 30 * q_multiplier,
    )


def test_a_vip_multiplier_above_the_tier_multiplier_applies_to_rule_lines():
    result = points_for_order(
        order("30", line("BOTTLE-1", 1, "10", "wine"), line("BOTTLE-2", 1, "20", "wine")),
        member(2, ("staff",)),
        program(RULES),
    )
    # NQ: VIP 2.5 beats tier 2: 50 x 2.5 + 20 x 10 x 2 x 2.5; Q: tier 2 beats VIP 1: 50 x 2 + 20 x 2 x 2
    assert result == (125 + 1000, 100 + 80)


@pytest.mark.parametrize(("rounding", "expected"), [("down", 4), ("up", 5), ("nearest", 5)])
def test_fixed_points_times_a_fractional_multiplier_use_the_settings_rounding(rounding, expected):
    spec = program(
        [{"sku": "A", "points_per_unit": 1}],
        nq_points={"conversion_rate": "10", "rounding": rounding},
    )
    nq, _ = points_for_order(order("3", line("A", 3, "3")), member(3), spec)  # 3 x 1 x 1.5 = 4.5
    assert nq == expected


def test_lines_are_rounded_each_on_its_own():
    spec = program([{"product_group": "wine", "multiplier": "1"}])
    lines = [line(f"S{n}", 1, "0.15", "wine") for n in range(4)]  # 1.5 NQ each
    assert points_for_order(order("0.60", *lines), member(), spec) == (4 * 1, 0)
    # the same order without lines is rounded once: 6.0 NQ
    assert points_for_order(order("0.60"), member(), spec) == (6, 0)


def test_a_multiplier_rule_rounds_once_per_line_after_both_multipliers():
    spec = program(
        [{"product_group": "g", "multiplier": "1.5"}],
        nq_points={"conversion_rate": "1", "rounding": "nearest"},
    )
    nq, _ = points_for_order(order("3", line("A", 1, "3", "g")), member(3), spec)  # 3 x 1.5 x 1.5 = 6.75
    assert nq == 7


def test_lines_that_do_not_add_up_to_the_amount_are_refused_when_rules_apply():
    with pytest.raises(InvalidRequest) as error:
        points_for_order(order("100", line("A", 1, "60"), line("B", 1, "30")), member(), program(RULES))
    assert error.value.status == 422
    assert error.value.code == "lines_do_not_match_amount"
    assert error.value.details == [
        {"field": "lines", "reason": "lines_do_not_match_amount", "lines_total": "90", "amount": "100"}
    ]


def test_amounts_are_compared_by_value():
    assert points_for_order(
        order("30.0", line("A", 1, "10.00"), line("B", 1, "20")), member(), program(RULES)
    )


def test_without_rules_lines_are_not_checked_and_the_amount_earns_as_before():
    mismatched = order("100", line("A", 1, "60"), line("B", 1, "30"))
    assert points_for_order(mismatched, member(), program()) == (1000, 100)


def test_without_lines_the_amount_earns_as_before_even_with_rules():
    assert points_for_order(order("129.90"), member(), program(RULES)) == (1299, 129)


def test_products_without_a_rule_earn_by_their_amount_by_default():
    assert program().products_without_rule == "earn_by_amount"


def test_products_without_a_rule_may_earn_nothing():
    only_ruled = program(RULES, products_without_rule="earn_nothing")
    result = points_for_order(
        order(
            "100.00",
            line("BOTTLE-1", 2, "30.00", "wine"),  # SKU rule: 2 x 50 NQ, 2 x 50 Q
            line("BOTTLE-2", 1, "20.00", "wine"),  # group x2: 400 NQ, 40 Q
            line("BREAD", 1, "50.00"),  # no rule: nothing
        ),
        member(),
        only_ruled,
    )
    assert result == (100 + 400, 100 + 40)
    assert points_for_order(order("5", line("BREAD", 1, "5")), member(), only_ruled) == (0, 0)


def test_a_program_whose_products_without_a_rule_earn_nothing_needs_the_lines():
    without_rules = program(products_without_rule="earn_nothing")
    assert points_for_order(order("10", line("BREAD", 1, "10")), member(), without_rules) == (0, 0)
    mismatched = order("100", line("A", 1, "60"))  # the lines are checked even without rules
    with pytest.raises(InvalidRequest) as refused:
        points_for_order(mismatched, member(), without_rules)
    assert refused.value.code == "lines_do_not_match_amount"
    for rules in ([], RULES):
        with pytest.raises(InvalidRequest) as refused:
            points_for_order(order("129.90"), member(), program(rules, products_without_rule="earn_nothing"))
        assert (refused.value.code, refused.value.details) == (
            "lines_required",
            [{"field": "lines", "reason": "lines_required"}],
        )


def test_products_without_rule_takes_one_of_two_values():
    with pytest.raises(ValidationError):
        program(products_without_rule="earn_half")


def test_a_free_line_still_earns_its_fixed_points():
    assert points_for_order(order("0", line("BOTTLE-1", 2, "0")), member(), program(RULES)) == (100, 100)
