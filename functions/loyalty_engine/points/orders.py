"""Earning from orders and reversing them on returns (pure computations)."""

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN, StoredAnswer
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import Name, OneLine, plain_decimal, single_line
from loyalty_engine.points.members import Balances, Member
from loyalty_engine.points.programs import EXACT as _EXACT
from loyalty_engine.points.programs import EarningRule, Program, QPointSettings

CLOCK_SKEW = timedelta(minutes=5)
# An optional id of one line (a store, a product group): its length is checked on the string, so
# that one too long is `string_too_long` ("at most 64 characters"), not the union's `too_long`.
OptionalId = Annotated[str, Field(max_length=64), AfterValidator(single_line)]


class OrderLine(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    sku: Name = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100_000, strict=True)
    amount: Annotated[
        Decimal, Field(ge=0, max_digits=14, decimal_places=4), BeforeValidator(plain_decimal)
    ] = Field(description="Line total")
    product_group: OptionalId | None = None


class OrderRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=NATURAL_KEY_PATTERN, description="Unique per member; the idempotency key")
    amount: Annotated[
        Decimal, Field(ge=0, max_digits=14, decimal_places=4), BeforeValidator(plain_decimal)
    ] = Field(description="Amount that earns points")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    ordered_at: UtcDatetime
    store_id: OptionalId | None = None
    lines: list[OrderLine] = Field(default_factory=list, max_length=500)


class ReturnRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    return_id: str | None = Field(
        default=None,
        pattern=NATURAL_KEY_PATTERN,
        description="Idempotency key (or the Idempotency-Key header)",
    )
    amount: (
        Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4), BeforeValidator(plain_decimal)]
        | None
    ) = Field(default=None, description="Returned amount; absent = all the rest")


class BurnRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    burn_id: str | None = Field(
        default=None,
        pattern=NATURAL_KEY_PATTERN,
        description="Idempotency key (or the Idempotency-Key header)",
    )
    points: int = Field(ge=1, le=1_000_000_000, strict=True)
    reason: OneLine | None = Field(default=None, max_length=256)


class OrderRecord(DeferredModel):
    """What an order earned, kept so that returns can reverse it."""

    model_config = ConfigDict(extra="forbid")

    order_id: str
    amount: Decimal
    currency: str
    ordered_at: datetime
    store_id: str | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    lot_id: str
    nq_earned: int
    q_earned: int
    nq_expires_at: datetime | None = None
    q_expires_at: datetime | None = None
    returned_amount: Decimal = Decimal(0)
    nq_reversed: int = 0
    q_reversed: int = 0
    answer: StoredAnswer


class Earned(DeferredModel):
    nq: int = Field(description="NQ points credited")
    q: int = Field(description="Q points credited")
    nq_not_credited: int = Field(description="NQ points refused by the maximum balance")
    nq_available_at: datetime


class EarnResult(DeferredModel):
    order_id: str
    card_code: str
    earned: Earned
    balances: Balances


class Reversed(DeferredModel):
    nq: int
    q: int
    unrecovered: int = Field(description="Points already spent or expired, that could not be taken back")


class ReturnResult(DeferredModel):
    return_id: str
    order_id: str
    amount: Decimal
    order_returned_amount: Decimal
    reversed: Reversed
    balances: Balances


class BurnResult(DeferredModel):
    burn_id: str
    card_code: str
    points: int
    balances: Balances


def check_order(order: OrderRequest, program: Program, now: datetime) -> None:
    if order.currency != program.currency:
        raise InvalidRequest(
            f"order currency {order.currency} is not the program's ({program.currency})",
            code="currency_mismatch",
            details=[{"field": "currency", "reason": "currency_mismatch"}],
        )
    if order.ordered_at > now + CLOCK_SKEW:
        raise InvalidRequest(
            "ordered_at is in the future",
            code="ordered_at_in_future",
            details=[{"field": "ordered_at", "reason": "in_future"}],
        )
    if not program.is_active(order.ordered_at):
        raise InvalidRequest(
            "the program was not running at ordered_at",
            code="program_not_active",
            details=[{"field": "ordered_at", "reason": "program_not_active"}],
        )


def points_for_order(order: OrderRequest, member: Member, program: Program) -> tuple[int, int]:
    """(NQ, Q) points of an order, with the member's tier multipliers.

    Without lines or without earning rules: the order's amount, rounded once. Otherwise each
    line earns by its rule (a SKU rule wins over a product-group rule) or, without one, by its
    amount or nothing (the program's `products_without_rule`), and is rounded on its own, so
    that a line's points do not depend on the other lines; the lines must then add up to the
    order's amount, which returns are proportional to. A program whose products without a
    rule earn nothing needs the lines of every order: its amount alone cannot say what earns.
    """
    nq_multiplier, q_multiplier = member.multipliers(program)
    group_rule = customer_group_rule(program.earning_rules, member.customer_groups)
    if group_rule is not None:
        assert group_rule.multiplier is not None
        nq_multiplier = _EXACT.multiply(nq_multiplier, group_rule.multiplier)
        q_multiplier = _EXACT.multiply(q_multiplier, group_rule.multiplier)
    line_rules = [rule for rule in program.earning_rules if not rule.is_customer_group_rule]
    by_amount = program.products_without_rule == "earn_by_amount"
    if not order.lines and not by_amount:
        raise InvalidRequest(
            "this program earns only for products with an earning rule: the order needs its lines",
            code="lines_required",
            details=[{"field": "lines", "reason": "lines_required"}],
        )
    if not order.lines or (not line_rules and by_amount):
        return (
            program.nq_points.points_for(order.amount, nq_multiplier),
            program.q_points.points_for(order.amount, q_multiplier),
        )
    _check_lines_total(order)
    matched = match_rules(order.lines, line_rules, member.customer_groups)
    return (
        _lines_points(matched, program.nq_points, nq_multiplier, by_amount),
        _lines_points(matched, program.q_points, q_multiplier, by_amount),
    )


Matched = list[tuple[OrderLine, EarningRule | None]]


def customer_group_rule(rules: list[EarningRule], customer_groups: list[str]) -> EarningRule | None:
    """The customer-group rule that applies to a member in `customer_groups`: the first one, in
    the program's order, whose group the member is in (None: none applies)."""
    groups = set(customer_groups)
    return next((r for r in rules if r.is_customer_group_rule and r.customer_group in groups), None)


def match_rules(lines: list[OrderLine], rules: list[EarningRule], customer_groups: list[str]) -> Matched:
    """Each line with its rule: the SKU's, else the product group's, else none. For each
    selector, a rule of one of the member's customer groups wins over the rule without a group;
    among several of the member's groups, the first rule in the program's order wins."""
    groups = set(customer_groups)
    by_sku: dict[str, EarningRule] = {}
    by_group: dict[str, EarningRule] = {}
    # general rules first, then the member's groups' rules in reverse order: the first one written wins
    applicable = [r for r in rules if r.customer_group is None] + [
        r for r in reversed(rules) if r.customer_group is not None and r.customer_group in groups
    ]
    for rule in applicable:
        if rule.sku is not None:
            by_sku[rule.sku] = rule
        elif rule.product_group is not None:
            by_group[rule.product_group] = rule
    return [(line, by_sku.get(line.sku, by_group.get(line.product_group or ""))) for line in lines]


def _lines_points(matched: Matched, settings: QPointSettings, multiplier: Decimal, by_amount: bool) -> int:
    """The sum of the lines' points, each line rounded on its own (a line without a rule earns
    by its amount if `by_amount`, else nothing)."""
    return sum(
        rule.points_for(settings, line.amount, line.quantity, multiplier)
        if rule is not None
        else settings.points_for(line.amount, multiplier)
        if by_amount
        else 0
        for line, rule in matched
    )


def _check_lines_total(order: OrderRequest) -> None:
    total = sum((line.amount for line in order.lines), Decimal(0))
    if total != order.amount:
        raise InvalidRequest(
            f"the lines add up to {total}, not to the order's amount ({order.amount})",
            code="lines_do_not_match_amount",
            details=[
                {
                    "field": "lines",
                    "reason": "lines_do_not_match_amount",
                    "lines_total": str(total),
                    "amount": str(order.amount),
                }
            ],
        )


def proportional_reversal(
    earned: int, already_reversed: int, order_amount: Decimal, returned_after: Decimal
) -> int:
    """Points to reverse now so that, cumulatively, floor(earned x returned / amount) is reversed.

    Cumulative rounding makes a series of partial returns add up exactly to a full return.
    """
    if order_amount == 0:
        return 0
    target = int((earned * returned_after / order_amount).to_integral_value(ROUND_FLOOR))
    return max(0, min(earned, target) - already_reversed)


def returned_amount(record: OrderRecord, request: ReturnRequest) -> Decimal:
    rest = record.amount - record.returned_amount
    amount = request.amount if request.amount is not None else rest
    if amount <= 0 or amount > rest:
        raise InvalidRequest(
            f"return amount {amount} exceeds what is left of the order ({rest})",
            code="return_exceeds_order",
            details=[{"field": "amount", "reason": "return_exceeds_order", "returnable": str(rest)}],
        )
    return amount
