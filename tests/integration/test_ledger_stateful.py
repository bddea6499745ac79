"""A Hypothesis state machine that drives the real API handler on moto against a reference model.

Each example gets a fresh in-process moto table, the sample program (10 NQ points per EUR
rounded down, 14 days holding, 1 year validity, maximum 100,000; Q: 1 per EUR, 1 year) and one
member. Each step earns, burns, returns (partly, wholly, too much), replays an earlier write or
reuses its key with another body, or moves the clock (hours to 400 days, or to the second around
the next end of holding or expiry). After every step the member's balances, its stored lots and
its whole ledger must agree with the model, which restates the rules of DOMAIN.md independently.
"""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    run_state_machine_as_test,
)

from tests.support.aws import fresh_caches
from tests.support.ledger_machine import LedgerMachine


@pytest.fixture
def machine_backend():
    """Caches built once for all examples (their client works with every moto session)."""
    fresh_caches()
    LedgerMachine.client = boto3.client("dynamodb")
    yield
    LedgerMachine.client = None
    fresh_caches()


def test_ledger_state_machine(machine_backend):
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- fixed scenarios through the same machine: the corners a few random examples may miss --------

DAY = 24 * 60  # minutes


@pytest.fixture
def machine(machine_backend):
    state = LedgerMachine()
    yield state
    state.teardown()


def check(state: LedgerMachine) -> None:
    state.member_balances_match_the_model()
    state.stored_lots_match_the_model_and_are_positive()
    state.ledger_adds_up_and_has_one_entry_per_key()


def kinds(state: LedgerMachine) -> list[str]:
    return [entry["kind"] for entry in state.ledger()]


def test_a_burn_first_writes_off_the_lots_that_expired(machine):
    machine.earn_order(100_00, 20 * DAY)  # 1000 NQ, available, expires in 345 days
    machine.clock.advance(days=20)
    machine.earn_order(50_00, 0)  # 500 NQ, expires in 365 days
    machine.clock.advance(days=350)
    check(machine)
    assert machine.available("nq") == 500
    machine.burn_points(200, by_header=False)
    check(machine)
    assert kinds(machine) == ["earn", "earn", "expire", "burn"]


def test_points_expire_at_their_expiry_second_and_become_available_at_the_end_of_holding(machine):
    machine.earn_order(100_00, 0)  # 1000 NQ pending for 14 days
    lot = next(lot for lot in machine.lots if lot.kind == "nq")
    machine.clock.now = lot.available_at - timedelta(seconds=1)
    machine.burn_points("all", by_header=True)  # nothing available yet: 409
    check(machine)
    machine.clock.now = lot.available_at
    machine.burn_points(400, by_header=True)
    check(machine)
    machine.clock.now = lot.expires_at - timedelta(seconds=1)
    check(machine)
    assert machine.available("nq") == 600
    machine.clock.now = lot.expires_at
    check(machine)
    assert machine.available("nq") == 0
    machine.burn_points(1, by_header=False)  # 409: the lot has expired
    machine.earn_order(1_00, 0)  # the next write records the expiry
    check(machine)
    assert kinds(machine) == ["earn", "burn", "expire", "earn"]


def test_a_return_after_spending_takes_from_other_lots_then_records_what_is_gone(machine):
    machine.earn_order(100_00, 20 * DAY)  # 1000 NQ, 100 Q, expires first
    machine.earn_order(30_00, 16 * DAY)  # 300 NQ, 30 Q
    first, _ = machine.orders
    machine.burn_points(1_100, by_header=False)  # all of the first lot, 100 of the second
    check(machine)
    machine.return_part(first, whole=False, share=500)  # half: 500 NQ and 50 Q to take back
    check(machine)
    half = machine.returns[list(machine.returns)[-1]][1][1]
    assert half["reversed"] == {"nq": 200, "q": 50, "unrecovered": 300}  # NQ from the second lot
    machine.return_part(first, whole=True, share=1)  # the rest: no NQ left at all
    check(machine)
    rest = machine.returns[list(machine.returns)[-1]][1][1]
    assert rest["reversed"] == {"nq": 0, "q": 50, "unrecovered": 500}
    assert machine.balances()["nq"] == {"available": 0, "pending": 0, "next_expiry": None}
