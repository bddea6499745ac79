"""A world for the instrument tests, built through the real instrument API handler.

Merchant groups `stores` (sells and accepts every series) and `outlets` (neither); merchants
`store-1` (in `stores`) and `outlet-1` (in `outlets` only); the sample gift card series `gift`
(events/api_put_series.json: prefix 6012, 16 digits, open value 5.00-500.00, valid 3 years from
its sale), a coupon series `promo` (prefix 7100, 12 digits, 10 % off) and a store credit series
`credit` (prefix 6099, 16 digits, EUR). Every helper takes an optional `handler` (one per thread
in the concurrency tests: see `instrument_container`).
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.instruments.batches import all_numbers
from loyalty_engine.instruments.context import instrument_services
from tests.support.api import Handler, LambdaContext, Reply, call, lambda_container, load_event

GROUP = "demo"
ADMIN = Caller(group_id=GROUP, key_id="01JD0000000000000000000000", scopes=("admin",))
POS = Caller(group_id=GROUP, key_id="01JD0000000000000000000001", scopes=("shop",), merchant_id="store-1")
OUTLET = Caller(group_id=GROUP, key_id="01JD0000000000000000000002", scopes=("shop",), merchant_id="outlet-1")
NO_MERCHANT = Caller(group_id=GROUP, key_id="01JD0000000000000000000003", scopes=("shop",))

GIFT, PROMO, CREDIT = "gift", "promo", "credit"
SERIES: dict[str, dict[str, Any]] = {
    PROMO: {
        "name": "Ten percent off",
        "kind": "coupon",
        "prefix": "7100",
        "length": 12,
        "issuer_group": "stores",
        "acceptor_group": "stores",
        "discount": {"percent": "10"},
        "validity": {"value": 30, "unit": "days"},
    },
    CREDIT: {
        "name": "Store credit",
        "kind": "store_credit",
        "prefix": "6099",
        "length": 16,
        "issuer_group": "stores",
        "acceptor_group": "stores",
        "currency": "EUR",
        "validity": {"value": 1, "unit": "years"},
    },
}


def ok(reply: Reply, status: int = 201) -> Any:
    assert reply.status == status, (reply.status, reply.body)
    return reply.body


def build_world(handler: Handler | None = None, *, series: tuple[str, ...] = (GIFT,)) -> None:
    """Merchant groups, merchants and the named series (the sample `gift` one by default)."""
    ok(call("api_put_merchant_group", ADMIN, handler=handler))
    ok(
        call(
            "api_put_merchant_group",
            ADMIN,
            path={"merchant_group_id": "outlets"},
            body={"name": "Outlets"},
            handler=handler,
        )
    )
    ok(call("api_put_merchant", ADMIN, handler=handler))
    ok(
        call(
            "api_put_merchant",
            ADMIN,
            path={"merchant_id": "outlet-1"},
            body={"name": "Outlet 1", "store_id": "O001", "merchant_groups": ["outlets"]},
            handler=handler,
        )
    )
    for series_id in series:
        if series_id == GIFT:
            ok(call("api_put_series", ADMIN, handler=handler))
        else:
            ok(
                call(
                    "api_put_series",
                    ADMIN,
                    path={"series_id": series_id},
                    body=SERIES[series_id],
                    handler=handler,
                )
            )


def batch_numbers(series_id: str, batch_id: str) -> list[str]:
    """A batch's numbers, regenerated from the stored series and batch (as the export is)."""
    svc = instrument_services()
    series = svc.series.series(GROUP, series_id)
    batch = svc.series.batch(GROUP, series_id, batch_id)
    assert series is not None and batch is not None
    return all_numbers(series, batch)


def issue(series_id: str, batch_id: str, count: int, handler: Handler | None = None) -> list[str]:
    """Pre-issue a batch during the call (count within the sync limit); its numbers."""
    body = ok(
        call(
            "api_create_batch",
            ADMIN,
            path={"series_id": series_id},
            body={"batch_id": batch_id, "count": count},
            handler=handler,
        )
    )
    assert body["status"] == "completed" and body["issued"] == count, body
    numbers = batch_numbers(series_id, batch_id)
    assert len(numbers) == count
    return numbers


def sell(
    number: str,
    value: str | None,
    activation_id: str,
    caller: Caller = POS,
    handler: Handler | None = None,
) -> Reply:
    body: dict[str, Any] = {"activation_id": activation_id}
    if value is not None:
        body["value"] = value
    return call("api_activate_gift_card", caller, path={"number": number}, body=body, handler=handler)


def redeem(
    number: str,
    redemption_id: str,
    amount: str | None,
    caller: Caller = POS,
    handler: Handler | None = None,
    currency: str | None = None,
) -> Reply:
    body: dict[str, Any] = {"redemption_id": redemption_id}
    if amount is not None:
        body["amount"] = amount
    if currency is not None:
        body["currency"] = currency
    return call("api_redeem_instrument", caller, path={"number": number}, body=body, handler=handler)


def reverse(
    number: str,
    redemption_id: str,
    reversal_id: str,
    amount: str | None,
    caller: Caller = POS,
    handler: Handler | None = None,
) -> Reply:
    body: dict[str, Any] = {"reversal_id": reversal_id}
    if amount is not None:
        body["amount"] = amount
    return call(
        "api_reverse_redemption",
        caller,
        path={"number": number, "redemption_id": redemption_id},
        body=body,
        handler=handler,
    )


def sold_gift_card(value: str = "100.00", batch_id: str = "B-SOLD", handler: Handler | None = None) -> str:
    """A gift card of the `gift` series (a batch of one), sold by store-1 for `value`."""
    (number,) = issue(GIFT, batch_id, 1, handler)
    body = ok(sell(number, value, f"SALE-{batch_id}", handler=handler))
    assert body["instrument"]["balance"] == value
    return number


def instrument_ledger(number: str, handler: Handler | None = None, page: int = 50) -> list[dict[str, Any]]:
    """The instrument's whole ledger through the API, oldest first."""
    entries: list[dict[str, Any]] = []
    query = {"limit": str(page)}
    while True:
        body = ok(
            call("api_instrument_ledger", POS, path={"number": number}, query=query, handler=handler), 200
        )
        entries.extend(body["entries"])
        if not body["next_cursor"]:
            return entries[::-1]
        query = {"limit": str(page), "cursor": body["next_cursor"]}


def assert_ledger_adds_up(entries: list[dict[str, Any]], balance: str | None) -> None:
    """Entries numbered consecutively, each balance_after the running sum, the last the balance."""
    numbers = [entry["entry_no"] for entry in entries]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
    running = Decimal(0)
    for entry in entries:
        running += Decimal(entry["amount"])
        assert Decimal(entry["balance_after"]) == running, (entry, running)
        assert running >= 0
    if balance is not None:
        assert running == Decimal(balance)


def instrument_container() -> Handler:
    """The instrument API's handler, as in a Lambda container of its own (see `lambda_container`)."""
    return lambda_container("loyalty_engine.handlers.instrument_api")


# --- batches: the exports bucket, the batch queue, time budgets, what the table holds -------------

EXPORT_BUCKET = "loyalty-exports-test"


def exports_and_queue(s3: Any, sqs: Any, region: str) -> tuple[str, str]:
    """The exports bucket and the batch queue on moto: (bucket, queue url)."""
    s3.create_bucket(Bucket=EXPORT_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    url = sqs.create_queue(QueueName="loyalty-instrument-batches-test")["QueueUrl"]
    return EXPORT_BUCKET, url


def budget(steps: int, plenty: float = 900_000) -> Callable[[], float]:
    """A `remaining_ms` with time for `steps` more steps of run_batch (one read per step), then none."""
    left = [steps]

    def remaining_ms() -> float:
        left[0] -= 1
        return plenty if left[0] >= 0 else 0

    return remaining_ms


class BatchContext(LambdaContext):
    """The batch issuer's Lambda context; its remaining time is a number or a `budget`."""

    function_name = "BatchIssuer"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:BatchIssuer"

    def __init__(self, remaining: Callable[[], float] | float = 900_000):
        self.remaining = remaining

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return int(self.remaining() if callable(self.remaining) else self.remaining)


def batch_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS event (events/sqs_instrument_batch.json) carrying the given message bodies."""
    template = load_event("sqs_instrument_batch")["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"{template['messageId'][:-4]}{n:04d}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


def instruments_in_table(client: Any, table: str, batch_id: str | None = None) -> list[dict[str, str]]:
    """Every pre-issued instrument item (of the batch): number, status and batch, by a filtered
    Scan of the table (moto takes milliseconds per item: scan once for several batches)."""
    names = {"#type": "type", "#number": "number", "#status": "status", "#batch": "batch_id"}
    values = {":instrument": {"S": "issued_instrument"}}
    condition = "#type = :instrument AND attribute_exists(#batch)"
    if batch_id is not None:
        condition += " AND #batch = :batch"
        values[":batch"] = {"S": batch_id}
    params: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": condition,
        "ProjectionExpression": "#number, #status, #batch",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    found: list[dict[str, str]] = []
    while True:
        page = client.scan(**params)
        found += [{name: value["S"] for name, value in item.items()} for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def exported_rows(s3: Any, key: str) -> list[dict[str, str]]:
    """The rows of a batch's CSV export."""
    text = s3.get_object(Bucket=EXPORT_BUCKET, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(text)))
