"""Concurrent point-of-sale calls on one instrument never overspend (real handler, moto server).

As in test_concurrency.py: moto's threaded server with its requests serialized (DynamoDB
applies each request atomically), one copy of the instrument API module per thread, all
released together by a barrier; the read-decide-write loops race freely.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest

from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.kernel import keys
from tests.support.api import Reply
from tests.support.concurrency import all_at_once
from tests.support.fast_clients import shared_botocore_loader
from tests.support.instruments import (
    GROUP,
    PROMO,
    assert_ledger_adds_up,
    build_world,
    instrument_container,
    instrument_ledger,
    issue,
    ok,
    redeem,
    sold_gift_card,
)

pytestmark = pytest.mark.usefixtures("moto_server")


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def test_twenty_concurrent_redemptions_spend_exactly_the_balance():
    build_world()
    number = sold_gift_card("100.00")
    handlers = [instrument_container() for _ in range(20)]

    def pay(n: int) -> Callable[[], Reply]:
        return lambda: redeem(number, f"PAY-{n:02d}", "10.00", handler=handlers[n])

    replies = all_at_once([pay(n) for n in range(20)])

    outcomes = Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)
    assert outcomes == {(201, None): 10, (409, "insufficient_balance"): 10}, outcomes
    paid = sorted(reply.body["entry"]["reference"] for reply in replies if reply.status == 201)
    # each successful payment saw the one before it: balances after them are 90.00, 80.00, ..., 0.00
    after = sorted(Decimal(reply.body["instrument"]["balance"]) for reply in replies if reply.status == 201)
    assert after == [Decimal(n * 10) for n in range(10)]

    entries = instrument_ledger(number, page=4)
    assert_ledger_adds_up(entries, "0.00")
    assert [entry["kind"] for entry in entries] == ["activation"] + ["redemption"] * 10
    redemptions = entries[1:]
    assert sorted(entry["reference"] for entry in redemptions) == paid
    assert all(entry["amount"] == "-10.00" for entry in redemptions)
    balances = [Decimal(entry["balance_after"]) for entry in redemptions]
    assert all(a > b for a, b in itertools.pairwise(balances)), balances
    stored = instrument_services().instruments.load(GROUP, number, [], None).instrument
    assert stored is not None
    assert (stored.balance, stored.status, stored.version) == (Decimal("0.00"), "redeemed", 12)
    # a refused payment leaves no redemption record behind (a later reversal of it is a 404)
    refused = [reply for reply in replies if reply.status == 409]
    assert all(reply.body["details"][0]["balance"] == "0.00" for reply in refused), refused[0].body
    loaded = instrument_services().instruments.load(
        GROUP, number, [keys.redemption_sk(f"PAY-{n:02d}") for n in range(20)], None
    )
    assert sorted(loaded.records) == sorted(keys.redemption_sk(reference) for reference in paid)


def test_eight_concurrent_replays_of_one_redemption_move_the_balance_once():
    build_world()
    number = sold_gift_card("100.00")
    handlers = [instrument_container() for _ in range(8)]

    def pay(n: int) -> Callable[[], Reply]:
        return lambda: redeem(number, "PAY-ONCE", "30.00", handler=handlers[n])

    replies = all_at_once([pay(n) for n in range(8)])

    assert {reply.status for reply in replies} == {201}, [r.body for r in replies if r.status != 201]
    assert all(reply.body == replies[0].body for reply in replies)
    assert replies[0].body["instrument"]["balance"] == "70.00"
    entries = instrument_ledger(number)
    assert [(entry["kind"], entry["reference"]) for entry in entries] == [
        ("activation", "SALE-B-SOLD"),
        ("redemption", "PAY-ONCE"),
    ]
    assert_ledger_adds_up(entries, "70.00")


def test_concurrent_uses_of_one_coupon_let_exactly_one_through():
    build_world(series=(PROMO,))
    (coupon,) = issue(PROMO, "C-1", 1)
    handlers = [instrument_container() for _ in range(10)]

    def use(n: int) -> Callable[[], Reply]:
        return lambda: redeem(coupon, f"USE-{n}", None, handler=handlers[n])

    replies = all_at_once([use(n) for n in range(10)])

    outcomes = Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)
    assert outcomes == {(201, None): 1, (409, "already_used"): 9}, outcomes
    (used,) = [reply for reply in replies if reply.status == 201]
    assert used.body["instrument"]["status"] == "redeemed"
    entries = instrument_ledger(coupon)
    assert [(e["kind"], e["reference"], e["amount"]) for e in entries] == [
        ("redemption", used.body["entry"]["reference"], "0.00")
    ]
    assert ok(redeem(coupon, "USE-LATE", None), 409)["code"] == "already_used"
