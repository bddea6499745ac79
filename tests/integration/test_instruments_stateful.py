"""A Hypothesis state machine of a stored-value instrument (a gift card), through the real
instrument API handler on in-process moto, against a reference model.

One table for the whole run (merchants and a series made once); each example takes a fresh
pre-issued gift card of an open-value series (5.00-500.00, valid 60 days from its sale), most
often sells it first, then moves it: sell it (again), pay with it (a share of the balance, all
of it, a cent more, any amount), refund payments (the rest, a share, too much, one never made),
from the acceptor merchant or from one of another group, cancel it (now and then; every later
movement is refused), replay an answered request or reuse its key with another body, move the
clock (hours, days, to the second of expiry). After every
write the stored instrument and its redemption records must agree with the model (each
answer's entry with the model's next movement); at the end of each example, the whole ledger:

- balance == sum of the ledger's amounts, every entry's balance_after the running sum, >= 0;
- never more redeemed than activated + reversed; each redemption's reversed <= its amount;
- a replay changes nothing and returns the first answer; a refused operation changes nothing.
"""

from __future__ import annotations

import os
from decimal import Decimal

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    run_state_machine_as_test,
)
from moto import mock_aws

from tests.support.api import call
from tests.support.aws import create_table, fresh_caches
from tests.support.instrument_machine import InstrumentMachine
from tests.support.instrument_model import SERIES, WALLET, unsold_cards
from tests.support.instruments import (
    ADMIN,
    build_world,
    ok,
)


@pytest.fixture
def one_table():
    """One moto table for every example: merchants and the wallet series made once."""
    with mock_aws():
        fresh_caches()
        create_table(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
        build_world()
        ok(call("api_put_series", ADMIN, path={"series_id": SERIES}, body=WALLET))
        yield
    unsold_cards.clear()
    fresh_caches()


def test_instrument_state_machine(one_table):
    run_state_machine_as_test(
        InstrumentMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


# --- a fixed scenario through the same machine: the second of expiry ------------------------------


@pytest.fixture
def machine(one_table):
    state = InstrumentMachine()
    yield state
    state.teardown()


def test_a_card_pays_and_takes_refunds_until_the_second_before_expiry(machine):
    check = machine.stored_state_matches_the_model
    machine.start(sell_first=1, cents=100_00)
    check()
    machine.pay(30_00, wrong_group=False)
    check()
    machine.wait(hours=1, to_expiry=4)  # the second before expiry: still active
    machine.pay(10_00, wrong_group=False)
    check()
    first = next(iter(machine.model.redemptions))
    machine.refund(pick=0, never_made=False, share=10, wrong_group=False)  # 3.00 back, in time
    check()
    machine.wait(hours=1, to_expiry=3)  # the second of expiry
    assert machine.clock.now == machine.model.valid_until
    machine.pay(1, wrong_group=False)  # 409 expired
    check()
    machine.refund(pick=0, never_made=False, share=None, wrong_group=False)  # 409 expired: no refund
    check()
    assert machine.model.redemptions[first].reversed == Decimal("3.00")
    assert machine.model.balance == Decimal("63.00")
    assert [kind for kind, _ in machine.model.entries] == [
        "activation",
        "redemption",
        "redemption",
        "reversal",
    ]
