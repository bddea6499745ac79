"""The reference model of the ledger state machine (tests/support/ledger_machine.py): the sample
program's rules restated, its lots and orders."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tests.integration.conftest import ADMIN

GROUP = ADMIN.group_id
PROGRAM = "club"  # events/api_put_program.json
NQ_PER_EUR, Q_PER_EUR = 10, 1
HOLDING = timedelta(days=14)
MAX_BALANCE = 100_000
LEDGER_PAGE = "16"
# The actions of a step, with their weights.
ACTIONS = [*["earn"] * 3, *["burn"] * 4, *["return_order"] * 2, *["replay"] * 2, *["advance_clock"] * 2]


def one_year_after(moment: datetime) -> datetime:
    """The program's 1-year validity: same day and time next year (29 February becomes the 28th)."""
    year = moment.year + 1
    return moment.replace(year=year, day=min(moment.day, calendar.monthrange(year, moment.month)[1]))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_FLOOR))


@dataclass
class ModelLot:
    order_id: str
    kind: str
    points: int
    available_at: datetime
    expires_at: datetime
    seq: int

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def spendable(self, now: datetime) -> bool:
        return self.available_at <= now < self.expires_at


@dataclass
class ModelOrder:
    body: dict[str, Any]
    answer: tuple[int, Any]
    amount: Decimal
    nq_earned: int
    q_earned: int
    expires_at: datetime | None = None  # of the order's lots (both kinds: one year after ordered_at)
    returned: Decimal = Decimal(0)
    nq_reversed: int = 0
    q_reversed: int = 0
