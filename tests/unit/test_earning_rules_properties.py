"""Earning rules, property-based: without rules an order earns its amount-based points, group rules
at multiplier one earn the sum of the lines, and line points are exact."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.points.orders import OrderLine, points_for_order
from loyalty_engine.points.programs import EarningRule, QPointSettings
from tests.support.earning_rules import member, order, program

# --- properties -----------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=Decimal("99999999.9999"), places=4, allow_nan=False)
multipliers = st.decimals(min_value=Decimal("0.001"), max_value=100, places=3, allow_nan=False)
roundings = st.sampled_from(["down", "up", "nearest"])
settings_st = st.builds(
    QPointSettings,
    conversion_rate=st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False),
    rounding=roundings,
)


def reference_rounding(value: Fraction, rounding: str) -> int:
    if rounding == "down":
        return math.floor(value)
    if rounding == "up":
        return math.ceil(value)
    return math.floor(value + Fraction(1, 2))


@st.composite
def order_lines(draw, groups: tuple[str, ...] = ("g1", "g2", "g3")) -> list[OrderLine]:
    return [
        OrderLine(
            sku=f"SKU-{n}",
            quantity=draw(st.integers(1, 100_000)),
            amount=draw(amounts),
            product_group=draw(st.none() | st.sampled_from(groups)),
        )
        for n in range(draw(st.integers(1, 8)))
    ]


@given(lines=order_lines(), amount=amounts, rank=st.integers(1, 3), vip=st.booleans(), q=settings_st)
def test_without_rules_the_points_are_the_amount_based_ones(lines, amount, rank, vip, q):
    spec = program(q_points=q.model_dump())
    person = member(rank, ("staff",) if vip else ())
    request = order("0").model_copy(update={"amount": amount, "lines": lines})
    nq_multiplier, q_multiplier = person.multipliers(spec)
    assert points_for_order(request, person, spec) == (
        spec.nq_points.points_for(amount, nq_multiplier),
        spec.q_points.points_for(amount, q_multiplier),
    )


@given(lines=order_lines(), rank=st.integers(1, 3), q=settings_st)
def test_multiplier_one_group_rules_earn_the_sum_of_the_lines_amount_based_points(lines, rank, q):
    rules = [{"product_group": group, "multiplier": "1"} for group in ("g1", "g2")]
    spec = program(rules, q_points=q.model_dump())
    person = member(rank)
    total = sum((line.amount for line in lines), Decimal(0))
    request = order("0").model_copy(update={"amount": total, "lines": lines})
    nq_multiplier, q_multiplier = person.multipliers(spec)
    assert points_for_order(request, person, spec) == (
        sum(spec.nq_points.points_for(line.amount, nq_multiplier) for line in lines),
        sum(spec.q_points.points_for(line.amount, q_multiplier) for line in lines),
    )


@given(
    settings=settings_st,
    amount=st.decimals(min_value=0, max_value=Decimal("9999999999.9999"), places=4, allow_nan=False),
    quantity=st.integers(1, 100_000),
    tier=multipliers,
    rule_multiplier=multipliers,
    points_per_unit=st.integers(0, 1_000_000),
)
def test_line_points_are_exact(settings, amount, quantity, tier, rule_multiplier, points_per_unit):
    """Against rational arithmetic, at the largest amounts, rates and multipliers allowed."""
    by_multiplier = EarningRule(sku="A", multiplier=rule_multiplier)
    expected = (
        Fraction(amount) * Fraction(settings.conversion_rate) * Fraction(tier) * Fraction(rule_multiplier)
    )
    assert by_multiplier.points_for(settings, amount, quantity, tier) == reference_rounding(
        expected, settings.rounding
    )
    fixed = EarningRule(sku="A", points_per_unit=points_per_unit)
    expected = Fraction(points_per_unit * quantity) * Fraction(tier)
    assert fixed.points_for(settings, amount, quantity, tier) == reference_rounding(
        expected, settings.rounding
    )
