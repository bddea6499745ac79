"""A program, a member and orders for the unit tests of the earning rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loyalty_engine.points.members import Member
from loyalty_engine.points.orders import OrderRequest
from loyalty_engine.points.programs import Program

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TIERS = {
    "tiers": [
        {"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0},
        {"rank": 2, "name": "Silver", "entry_threshold": 500, "downgrade_threshold": 400},
        {
            "rank": 3,
            "name": "Gold",
            "entry_threshold": 2000,
            "downgrade_threshold": 1500,
            "nq_multiplier": "1.5",
        },
    ],
    "upgrade": {"first_run_at": "2026-01-02T03:00:00+01:00"},
    "downgrade": {"mode": "calendar", "first_run_at": "2027-01-01T03:00:00+01:00"},
}


def program(rules: list[dict[str, Any]] | None = None, **overrides: Any) -> Program:
    """NQ: 10 points per EUR, rounded down; Q: 1 point per EUR, rounded down; tiers 1..3."""
    return Program.model_validate(
        {
            "program_id": "club",
            "name": "Club",
            "kind": "tiered",
            "currency": "EUR",
            "starts_at": "2026-01-01T00:00:00Z",
            "nq_points": {"conversion_rate": "10", "rounding": "down"},
            "q_points": {"conversion_rate": "1", "rounding": "down"},
            "tier_settings": TIERS,
            "vip_tiers": [{"name": "staff", "nq_multiplier": "2.5", "q_multiplier": "1"}],
            "earning_rules": rules or [],
            "created_at": NOW,
            "updated_at": NOW,
        }
        | overrides
    )


def member(tier_rank: int | None = 1, vip_tiers: tuple[str, ...] = ()) -> Member:
    return Member(
        card_code="CARD-0001",
        program_id="club",
        subscribed_at=NOW,
        created_at=NOW,
        tier_rank=tier_rank,
        vip_tiers=list(vip_tiers),
    )


def line(sku: str, quantity: int, amount: str, group: str | None = None) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "amount": amount, "product_group": group}


def order(amount: str, *lines: dict[str, Any]) -> OrderRequest:
    return OrderRequest.model_validate(
        {
            "order_id": "O-1",
            "amount": amount,
            "currency": "EUR",
            "ordered_at": "2026-05-01T10:00:00Z",
            "lines": list(lines),
        }
    )


# Earning rules that target customer groups (staff earn nothing, a club earns double), with
# their precedence: the integration tests of customer groups.
CUSTOMER_GROUP_RULES: list[dict[str, Any]] = [
    {"customer_group": "staff", "multiplier": "0"},
    {"customer_group": "club", "multiplier": "2"},
    {"sku": "SKU-1", "points_per_unit": 50},
    {"sku": "SKU-1", "customer_group": "vip", "points_per_unit": 70},
    {"sku": "SKU-1", "customer_group": "club", "points_per_unit": 60},
]
