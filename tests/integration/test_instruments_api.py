"""The instrument API through its real handler on moto: every sample event in a sensible order,
and the idempotent replay of every write route.

The helpers here build the world the instrument test files share (test_series_api.py,
test_instruments_pos.py, test_merchants_customers_api.py import them):

- merchant groups `stores` (sells and accepts `gift` and `promo`), `sellers` and `acceptors`
  (the issuer and the acceptor of `split` and `credit`), `elsewhere` (nothing);
- merchants `store-1` (the sample: `stores`, store S001), `seller-1` (`sellers` only),
  `acceptor-1` (`acceptors` only), `outsider` (`elsewhere` only);
- series `gift` (the sample: prefix 6012, 16 digits, open value 5.00-500.00, valid 3 years from
  its sale), `split` (a gift card of fixed value 25.00 sold by sellers, accepted by acceptors),
  `credit` (store credit, at most 200.00, issued by sellers, accepted by acceptors) and `promo`
  (a coupon, 10 % off).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from loyalty_engine.access.models import Caller
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.instrument import Instrument
from loyalty_engine.instruments.instrument_store import issued_instrument_item
from tests.integration.conftest import CARD
from tests.support.api import Reply, call, load_event
from tests.support.clock import FakeClock

GROUP = "demo"
ADMIN = Caller(group_id=GROUP, key_id="01JD0000000000000000000010", scopes=("admin",))


def pos(merchant_id: str | None) -> Caller:
    """A shop key of `demo`, bound to `merchant_id` (None: bound to no merchant)."""
    return Caller(
        group_id=GROUP, key_id="01JD0000000000000000000011", scopes=("shop",), merchant_id=merchant_id
    )


STORE = pos("store-1")
SELLER = pos("seller-1")
ACCEPTOR = pos("acceptor-1")
OUTSIDER = pos("outsider")
NO_MERCHANT = pos(None)
GHOST = pos("ghost")  # a key bound to a merchant that does not exist

SAMPLE_NUMBER = "6012000000000011"  # the number of the sample events (Luhn-valid)
MERCHANT_GROUPS = ("sellers", "acceptors", "elsewhere")
MERCHANTS = {
    "seller-1": ("S-SELL", ["sellers"]),
    "acceptor-1": ("S-ACC", ["acceptors"]),
    "outsider": ("S-OUT", ["elsewhere"]),
}
SPLIT = {
    "name": "Fixed 25",
    "kind": "gift_card",
    "prefix": "7001",
    "length": 12,
    "issuer_group": "sellers",
    "acceptor_group": "acceptors",
    "currency": "EUR",
    "value": "25.00",
}
CREDIT = {
    "name": "Store credit",
    "kind": "store_credit",
    "prefix": "7002",
    "length": 12,
    "issuer_group": "sellers",
    "acceptor_group": "acceptors",
    "currency": "EUR",
    "max_value": "200.00",
}
PROMO = {
    "name": "Ten percent off",
    "kind": "coupon",
    "prefix": "7003",
    "length": 12,
    "issuer_group": "stores",
    "acceptor_group": "stores",
    "discount": {"percent": "10"},
}


# ------------------------------------------------------------------------------------ helpers
def ok(reply: Reply, status: int = 201) -> Any:
    assert reply.status == status, (reply.status, reply.body)
    return reply.body


def refused(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert (reply.status, (reply.body or {}).get("code")) == (status, code), (reply.status, reply.body)
    return reply.body  # type: ignore[no-any-return]


def luhn_digit(payload: str) -> str:
    """The Luhn check digit of `payload` (written here, independently of the engine's)."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str(-total % 10)


def luhn_ok(number: str) -> bool:
    return luhn_digit(number[:-1]) == number[-1]


def use_clock() -> FakeClock:
    """A fake clock for the instrument use cases (call after the table fixture reset the caches)."""
    fake = FakeClock()
    instrument_services().clock = fake
    return fake


def put_merchant_group(merchant_group_id: str, caller: Caller = ADMIN) -> Reply:
    return call(
        "api_put_merchant_group",
        caller,
        path={"merchant_group_id": merchant_group_id},
        body={"name": merchant_group_id.title()},
    )


def put_merchant(merchant_id: str, store_id: str, groups: list[str], caller: Caller = ADMIN) -> Reply:
    body = {"name": f"Merchant {merchant_id}", "store_id": store_id, "merchant_groups": groups}
    return call("api_put_merchant", caller, path={"merchant_id": merchant_id}, body=body)


def put_series(series_id: str, spec: dict[str, Any], caller: Caller = ADMIN) -> Reply:
    return call("api_put_series", caller, path={"series_id": series_id}, body=spec)


def gift_spec(**changes: Any) -> dict[str, Any]:
    """The sample `gift` series' spec, changed."""
    return {**json.loads(load_event("api_put_series")["body"]), **changes}


def build_world() -> FakeClock:
    """The merchant groups, merchants and series of the module docstring; the fake clock."""
    clock = use_clock()
    ok(call("api_put_merchant_group", ADMIN))
    for merchant_group_id in MERCHANT_GROUPS:
        ok(put_merchant_group(merchant_group_id))
    ok(call("api_put_merchant", ADMIN))
    for merchant_id, (store_id, groups) in MERCHANTS.items():
        ok(put_merchant(merchant_id, store_id, groups))
    ok(call("api_put_series", ADMIN))
    for series_id, spec in (("split", SPLIT), ("credit", CREDIT), ("promo", PROMO)):
        ok(put_series(series_id, spec))
    return clock


def _scan(table: tuple[Any, str], **params: Any) -> list[dict[str, Any]]:
    client, name = table
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    params["TableName"] = name
    while True:
        page = client.scan(**params)
        items += [{k: deserializer.deserialize(v) for k, v in raw.items()} for raw in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored(table: tuple[Any, str], item_type: str | None) -> list[dict[str, Any]]:
    """Every item of a type (None: every item) in the table (a scan: the tables here are small)."""
    if item_type is None:
        return _scan(table)
    return _scan(
        table,
        FilterExpression="#t = :t",
        ExpressionAttributeNames={"#t": "type"},
        ExpressionAttributeValues={":t": {"S": item_type}},
    )


def batch_numbers(table: tuple[Any, str], batch_id: str) -> list[str]:
    """The numbers of the instruments stored with this batch id (read back from the table)."""
    found = _scan(
        table,
        FilterExpression="#t = :t AND batch_id = :b",
        ProjectionExpression="#n",
        ExpressionAttributeNames={"#t": "type", "#n": "number"},
        ExpressionAttributeValues={":t": {"S": "issued_instrument"}, ":b": {"S": batch_id}},
    )
    return sorted(i["number"] for i in found)


def create_batch(series_id: str, batch_id: str, count: int) -> Reply:
    body = {"batch_id": batch_id, "count": count}
    return call("api_create_batch", ADMIN, path={"series_id": series_id}, body=body)


def issue(table: tuple[Any, str], series_id: str, batch_id: str, count: int) -> list[str]:
    """Pre-issue a batch during the call; the numbers stored."""
    body = ok(create_batch(series_id, batch_id, count))
    assert (body["status"], body["issued"]) == ("completed", count), body
    numbers = batch_numbers(table, batch_id)
    assert len(numbers) == count
    return numbers


def sell(
    number: str, activation_id: str, value: str | None = None, caller: Caller = STORE, **more: Any
) -> Reply:
    body: dict[str, Any] = {"activation_id": activation_id, **more}
    if value is not None:
        body["value"] = value
    return call("api_activate_gift_card", caller, path={"number": number}, body=body)


def redeem(
    number: str, redemption_id: str, amount: str | None = None, caller: Caller = STORE, **more: Any
) -> Reply:
    body: dict[str, Any] = {"redemption_id": redemption_id, **more}
    if amount is not None:
        body["amount"] = amount
    return call("api_redeem_instrument", caller, path={"number": number}, body=body)


def reverse(
    number: str, redemption_id: str, reversal_id: str, amount: str | None = None, caller: Caller = STORE
) -> Reply:
    body: dict[str, Any] = {"reversal_id": reversal_id}
    if amount is not None:
        body["amount"] = amount
    path = {"number": number, "redemption_id": redemption_id}
    return call("api_reverse_redemption", caller, path=path, body=body)


def store_credit(
    return_id: str, amount: str, caller: Caller = SELLER, series_id: str = "credit", **more: Any
) -> Reply:
    body = {"return_id": return_id, "amount": amount, "currency": "EUR", **more}
    return call("api_issue_store_credit", caller, path={"series_id": series_id}, body=body)


def lookup(number: str, caller: Caller = STORE) -> Reply:
    return call("api_lookup_instrument", caller, path={"number": number})


def ledger(number: str, caller: Caller = STORE, **query: str) -> Reply:
    return call("api_instrument_ledger", caller, path={"number": number}, query=query or None)


def balance_and_ledger(number: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What a refusal must leave unchanged: the instrument's view and its whole ledger."""
    return ok(lookup(number), 200), ok(ledger(number), 200)["entries"]


def sold_gift_card(table: tuple[Any, str], batch_id: str, value: str = "100.00") -> str:
    """A `gift` card (a batch of one) sold by store-1 for `value`."""
    (number,) = issue(table, "gift", batch_id, 1)
    assert ok(sell(number, f"SALE-{batch_id}", value))["instrument"]["balance"] == value
    return number


def seed_sample_number(group: str = GROUP) -> None:
    """The sample events' number as an issued (unsold) card of the `gift` series: batches draw
    random-looking numbers, the samples name a fixed one."""
    svc = instrument_services()
    series = svc.series.series(group, "gift")
    assert series is not None
    card = Instrument(
        number=SAMPLE_NUMBER,
        series_id="gift",
        kind="gift_card",
        status="issued",
        currency=series.currency,
        batch_id="samples",
        issued_at=svc.clock(),
    )
    svc.series.put_instruments([issued_instrument_item(group, card)])


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
