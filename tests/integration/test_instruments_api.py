"""The instrument API through its real handler on moto: every sample event in a sensible order,
and the idempotent replay of every write route.

The world these tests (and the other instrument test files) share: tests/support/instrument_api.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.conftest import CARD
from tests.support.api import call
from tests.support.clock import FakeClock
from tests.support.instrument_api import (
    ADMIN,
    CREDIT,
    GHOST,
    NO_MERCHANT,
    SAMPLE_NUMBER,
    STORE,
    balance_and_ledger,
    batch_numbers,
    build_world,
    create_batch,
    issue,
    ledger,
    lookup,
    ok,
    put_series,
    redeem,
    refused,
    reverse,
    seed_sample_number,
    sell,
    sold_gift_card,
    store_credit,
    stored,
    use_clock,
)


# ------------------------------------------------------------------------------------- tests
@pytest.fixture
def world(table) -> FakeClock:
    return build_world()


def test_every_sample_event_answers_in_order(table, member):
    """The 20 sample events of the instrument routes, as the demo group sends them."""
    use_clock()
    mg = ok(call("api_put_merchant_group", ADMIN))
    assert (mg["merchant_group_id"], mg["name"]) == ("stores", "All stores")
    assert ok(call("api_get_merchant_group", ADMIN), 200) == mg
    merchant = ok(call("api_put_merchant", ADMIN))
    assert (merchant["store_id"], merchant["merchant_groups"], merchant["version"]) == ("S001", ["stores"], 1)
    assert ok(call("api_get_merchant", ADMIN), 200) == merchant
    series = ok(call("api_put_series", ADMIN))
    assert (series["prefix"], series["length"], series["issued"], series["version"]) == ("6012", 16, 0, 1)
    assert ok(call("api_get_series", ADMIN), 200) == series
    batch = ok(call("api_create_batch", ADMIN))
    assert (batch["status"], batch["count"], batch["issued"], batch["progress"]) == (
        "completed",
        100,
        100,
        1.0,
    )
    assert batch["export"] is None  # no export bucket configured
    assert ok(call("api_get_batch", ADMIN), 200) == batch
    listed = ok(call("api_list_series", ADMIN), 200)["series"]
    assert [(s["series_id"], s["issued"]) for s in listed] == [("gift", 100)]
    numbers = batch_numbers(table, "2026-11-xmas")
    assert len(set(numbers)) == 100 and SAMPLE_NUMBER not in numbers
    seed_sample_number()

    assert ok(call("api_lookup_instrument", STORE), 200)["status"] == "issued"
    sold = ok(call("api_activate_gift_card", STORE))
    assert (sold["instrument"]["status"], sold["instrument"]["balance"]) == ("active", "50.00")
    assert (sold["entry"]["kind"], sold["entry"]["amount"], sold["entry"]["store_id"]) == (
        "activation",
        "50.00",
        "S001",
    )
    paid = ok(call("api_redeem_instrument", STORE))
    assert (paid["instrument"]["balance"], paid["entry"]["amount"]) == ("37.50", "-12.50")
    back = ok(call("api_reverse_redemption", STORE))
    assert (back["instrument"]["balance"], back["entry"]["reverses"]) == ("50.00", "POS1-0002")
    entries = ok(call("api_instrument_ledger", STORE), 200)["entries"]
    assert [e["kind"] for e in entries] == ["reversal", "redemption", "activation"]

    credit_spec = {**CREDIT, "issuer_group": "stores", "acceptor_group": "stores"}
    ok(put_series("credit", credit_spec))
    credit = ok(call("api_issue_store_credit", STORE))
    assert (credit["instrument"]["kind"], credit["instrument"]["balance"]) == ("store_credit", "19.90")
    assert credit["entry"]["reference"] == "R-2026-0001"

    assert ok(call("api_put_customer_group", ADMIN))["customer_group_id"] == "vip"
    assert ok(call("api_get_customer_group", ADMIN), 200)["name"] == "VIP customers"
    customer = ok(call("api_put_customer", ADMIN))
    assert (customer["customer_groups"], customer["links"]) == (
        ["vip"],
        {"card_codes": [], "instruments": []},
    )
    linked = ok(call("api_link_card_customer", ADMIN), 200)
    assert linked["links"]["card_codes"] == [CARD]
    assert ok(call("api_get_customer", ADMIN), 200) == linked


def test_every_write_route_replays_its_first_answer(table, member):
    """The same request again has no second effect: the POST routes answer the first answer,
    the PUT routes leave the resource as the first call left it (but for its update time)."""
    world = build_world()
    # PUT routes: the replay is an update (200) to the same state.
    puts = [
        (lambda: call("api_put_merchant_group", ADMIN), lambda: call("api_get_merchant_group", ADMIN)),
        (lambda: call("api_put_merchant", ADMIN), lambda: call("api_get_merchant", ADMIN)),
        (lambda: call("api_put_series", ADMIN), lambda: call("api_get_series", ADMIN)),
    ]
    ok(call("api_put_customer_group", ADMIN))
    ok(call("api_put_customer", ADMIN))
    puts += [
        (lambda: call("api_put_customer_group", ADMIN), lambda: call("api_get_customer_group", ADMIN)),
        (lambda: call("api_put_customer", ADMIN), lambda: call("api_get_customer", ADMIN)),
        (lambda: call("api_link_card_customer", ADMIN), lambda: call("api_get_customer", ADMIN)),
    ]
    changing = {"updated_at", "version"}
    for put, get in puts:
        world.advance(minutes=1)
        first = ok(put(), 200)  # each exists already: the first call is an update too
        world.advance(minutes=1)
        again = ok(put(), 200)
        assert {k: v for k, v in again.items() if k not in changing} == {
            k: v for k, v in first.items() if k not in changing
        }
        assert ok(get(), 200) == again
    assert ok(call("api_get_customer", ADMIN), 200)["links"]["card_codes"] == [CARD]

    # POST routes: the replay answers the first answer, byte for byte, and writes nothing.
    batch = ok(create_batch("gift", "B-REPLAY", 3))
    world.advance(minutes=1)
    assert ok(create_batch("gift", "B-REPLAY", 3)) == batch
    assert ok(call("api_get_series", ADMIN), 200)["issued"] == 3
    assert len(batch_numbers(table, "B-REPLAY")) == 3
    number = batch_numbers(table, "B-REPLAY")[0]

    writes = [
        lambda: sell(number, "SALE-1", "80.00"),
        lambda: redeem(number, "PAY-1", "30.00"),
        lambda: reverse(number, "PAY-1", "REFUND-1", "10.00"),
    ]
    for write in writes:
        first = ok(write())
        world.advance(minutes=1)
        assert ok(write()) == first
    view, entries = balance_and_ledger(number)
    assert view["balance"] == "60.00"
    assert [(e["kind"], e["amount"]) for e in entries] == [
        ("reversal", "10.00"),
        ("redemption", "-30.00"),
        ("activation", "80.00"),
    ]
    credit = ok(store_credit("RET-1", "15.00"))
    world.advance(minutes=1)
    assert ok(store_credit("RET-1", "15.00")) == credit
    assert ok(call("api_get_series", ADMIN, path={"series_id": "credit"}), 200)["issued"] == 1
    assert len(ok(ledger(credit["instrument"]["number"]), 200)["entries"]) == 1

    # The same natural key with another request: refused, nothing written.
    for reply in (
        create_batch("gift", "B-REPLAY", 4),
        sell(number, "SALE-1", "90.00"),
        redeem(number, "PAY-1", "31.00"),
        reverse(number, "PAY-1", "REFUND-1", "11.00"),
        store_credit("RET-1", "16.00"),
    ):
        body = refused(reply, 409, "idempotency_key_reused")
        assert body["details"][0]["reason"] == "idempotency_key_reused", body
    assert balance_and_ledger(number) == (view, entries)
    assert ok(call("api_get_series", ADMIN), 200)["issued"] == 3
    assert Decimal(view["balance"]) == sum(Decimal(e["amount"]) for e in entries)


def test_pos_routes_need_a_key_bound_to_a_merchant(world, table):
    """merchant_required for a key bound to no merchant, unknown_merchant for a key whose
    merchant does not exist: on every point-of-sale write, with nothing changed."""
    number = sold_gift_card(table, "B-KEYS", "40.00")
    ok(redeem(number, "PAY-1", "10.00"))
    (fresh,) = issue(table, "gift", "B-FRESH", 1)
    before = balance_and_ledger(number), balance_and_ledger(fresh)
    issued_credit = ok(call("api_get_series", ADMIN, path={"series_id": "credit"}), 200)["issued"]
    for caller, status, code in ((NO_MERCHANT, 403, "merchant_required"), (GHOST, 403, "unknown_merchant")):
        refused(sell(fresh, "SALE-X", "20.00", caller=caller), status, code)
        refused(redeem(number, "PAY-X", "1.00", caller=caller), status, code)
        refused(reverse(number, "PAY-1", "REFUND-X", "1.00", caller=caller), status, code)
        refused(store_credit("RET-X", "5.00", caller=caller), status, code)
    # Reading needs no merchant.
    assert ok(lookup(number, caller=NO_MERCHANT), 200)["balance"] == "30.00"
    assert (balance_and_ledger(number), balance_and_ledger(fresh)) == before
    assert ok(call("api_get_series", ADMIN, path={"series_id": "credit"}), 200)["issued"] == issued_credit
    assert stored(table, "store_credit_return") == []
