"""A first walk through the instrument API on moto: merchants, a series, a batch, a sale, payments."""

from __future__ import annotations

from loyalty_engine.domain.access import Caller
from tests.support.api import call

ADMIN = Caller(group_id="demo", key_id="01JD0000000000000000000000", scopes=("admin",))
POS = Caller(group_id="demo", key_id="01JD0000000000000000000001", scopes=("shop",), merchant_id="store-1")


def test_walkthrough(table):
    assert call("api_put_merchant_group", ADMIN).status == 201
    assert call("api_put_merchant", ADMIN).status == 201, call("api_put_merchant", ADMIN).body
    reply = call("api_put_series", ADMIN)
    assert reply.status == 201, reply.body
    reply = call("api_create_batch", ADMIN)
    assert reply.status == 201, reply.body
    assert reply.body["issued"] == 100
    series = call("api_get_series", ADMIN).body
    assert series["issued"] == 100
    # find a number of the batch: regenerate it
    from loyalty_engine.dal.series_store import SeriesStore
    from loyalty_engine.domain.instrument_batches import all_numbers

    client, name = table
    store = SeriesStore(client, name)
    s = store.series("demo", "gift")
    b = store.batch("demo", "gift", "2026-11-xmas")
    numbers = all_numbers(s, b)
    assert len(set(numbers)) == 100
    number = numbers[0]
    reply = call("api_lookup_instrument", POS, path={"number": number})
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "issued"
    reply = call("api_activate_gift_card", POS, path={"number": number})
    assert reply.status == 201, reply.body
    assert reply.body["instrument"]["balance"] == "50.00"
    reply = call("api_redeem_instrument", POS, path={"number": number})
    assert reply.status == 201, reply.body
    assert reply.body["instrument"]["balance"] == "37.50"
    replay = call("api_redeem_instrument", POS, path={"number": number})
    assert replay.status == 201 and replay.body == reply.body
    reply = call("api_reverse_redemption", POS, path={"number": number, "redemption_id": "POS1-0002"})
    assert reply.status == 201, reply.body
    assert reply.body["instrument"]["balance"] == "50.00"
    ledger = call("api_instrument_ledger", POS, path={"number": number})
    assert [e["kind"] for e in ledger.body["entries"]] == ["reversal", "redemption", "activation"]
