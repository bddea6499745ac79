"""The instrument benchmarks' (`bench/instruments.py`) sizes, tables and goals, and what both of
its child processes (issuing, point of sale) share: the callers, the series set up through the
API, the request counter on the code's clients."""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from typing import Any

from bench.aws_model import FULL_VCPU_MB
from bench.processes import ROOT

OUT = ROOT / ".bench" / "instruments.json"
WORK = ROOT / ".bench" / "instruments"
ISSUE_TABLE = "loyalty-bench-instruments"
POS_TABLE = "loyalty-bench-pos"
BUCKET = "loyalty-bench-exports"
QUEUE = "loyalty-bench-batches"
GROUP = "demo"
RAW_GROUPS = ("rawa", "rawb")  # as long as GROUP: the raw items have the issued items' size
SERIES = "gift"
CREDIT_SERIES = "credit"
CARDS = 20_000  # what fits in `make bench`; the issue's: BENCH_INSTRUMENT_CARDS=100000
POS_OPERATIONS = 200
GOAL_ROUND_TRIPS = 2  # per redemption

# The projection's assumptions: p50 latencies in-region, calls one after the other as the
# BatchIssuer makes them; its CPU time scaled to its share of a vCPU.
PROJECTION: dict[str, Any] = {
    "dynamodb_ms": {"BatchWriteItem": 10.0, "PutItem": 5.0, "UpdateItem": 5.0, "GetItem": 3.0, "Query": 5.0},
    "dynamodb_other_ms": 5.0,
    "s3_put_mb_s": 50.0,
    "s3_request_ms": 20.0,
    "full_vcpu_mb": FULL_VCPU_MB,
    "cards": 100_000,
}


def default_cards() -> int:
    return int(os.environ.get("BENCH_INSTRUMENT_CARDS") or CARDS)


def default_pos_operations() -> int:
    return int(os.environ.get("BENCH_INSTRUMENT_POS") or POS_OPERATIONS)


# --- what the children do: shared --------------------------------------------------------

ADMIN_KEY = "01JD0000000000000000000000"
POS_KEY = "01JD0000000000000000000001"


def callers() -> tuple[Any, Any]:
    from loyalty_engine.access.models import Caller

    admin = Caller(group_id=GROUP, key_id=ADMIN_KEY, scopes=("admin",))
    pos = Caller(group_id=GROUP, key_id=POS_KEY, scopes=("shop",), merchant_id="store-1")
    return admin, pos


def expect_status(reply: Any, status: int, what: str) -> Any:
    if reply.status != status:
        raise RuntimeError(f"{what}: {reply.status} {reply.body}")
    return reply.body


def setup_series(admin: Any) -> None:
    """Merchant group `stores`, merchant `store-1`, the sample gift card series (6012, 16 digits,
    open value 5-500 EUR) and a store credit series (6013), through the API."""
    from tests.support.api import call

    expect_status(call("api_put_merchant_group", admin), 201, "merchant group")
    expect_status(call("api_put_merchant", admin), 201, "merchant")
    expect_status(call("api_put_series", admin), 201, "gift card series")
    credit = {
        "name": "Store credit",
        "kind": "store_credit",
        "prefix": "6013",
        "length": 16,
        "issuer_group": "stores",
        "acceptor_group": "stores",
        "currency": "EUR",
        "min_value": "0.01",
        "max_value": "1000.00",
        "validity": {"value": 1, "unit": "years"},
    }
    expect_status(
        call("api_put_series", admin, path={"series_id": CREDIT_SERIES}, body=credit), 201, "credit series"
    )


class Calls:
    """AWS requests by service.operation on the code's clients (botocore hooks), the time spent
    in each, the items of BatchWriteItem requests and the DynamoDB HTTP attempts."""

    def __init__(self, clients: dict[str, Any]):
        self.calls: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}
        self.attempts = 0
        self.items_written = 0
        self.sequence: list[str] = []
        self._started = 0.0
        for service, made in clients.items():
            made.meta.events.register(f"before-call.{service}", self._before)
            made.meta.events.register(f"after-call.{service}", self._after)
        dynamodb = clients["dynamodb"]
        dynamodb.meta.events.register("before-send.dynamodb", self._send)
        dynamodb.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", self._batch)

    @staticmethod
    def _name(model: Any) -> str:
        return f"{model.service_model.service_name}.{model.name}"

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[self._name(model)] += 1
        self.sequence.append(self._name(model))
        self._started = time.perf_counter()

    def _after(self, model: Any, **_: Any) -> None:
        name = self._name(model)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - self._started

    def _send(self, **_: Any) -> None:
        self.attempts += 1

    def _batch(self, params: dict[str, Any], **_: Any) -> None:
        self.items_written += sum(len(v) for v in params.get("RequestItems", {}).values())

    def reset(self) -> None:
        self.calls.clear()
        self.seconds.clear()
        self.attempts = self.items_written = 0
        self.sequence.clear()


def code_clients() -> dict[str, Any]:
    from loyalty_engine.kernel.dynamo import client
    from loyalty_engine.kernel.objects import s3_client, sqs_client

    return {"dynamodb": client(), "s3": s3_client(), "sqs": sqs_client()}


def item_bytes(values: dict[str, Any]) -> int:
    from bench.aws_model import item_size
    from loyalty_engine.kernel.dynamo import to_item

    return item_size(to_item(values))


# --- point of sale -----------------------------------------------------------------------


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return round(values[0], 2) if values else 0.0
    return round(statistics.quantiles(values, n=100)[q - 1], 2)
