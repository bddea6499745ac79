"""The world the instrument API test files share (test_instruments_api.py, test_series_api.py,
test_instruments_pos.py, test_merchants_customers_api.py, ...), built through the API:

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
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from loyalty_engine.access.models import Caller
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.instrument import Instrument
from loyalty_engine.instruments.instrument_store import issued_instrument_item
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
