"""The instrument feature on the local stack, over HTTP: the gateway dispatches its routes to the
InstrumentApi, a batch larger than SYNC_BATCH_LIMIT goes through the InstrumentBatches queue to the
BatchIssuer, and its CSV export lands in the Exports bucket.

SYNC_BATCH_LIMIT is 10 in this module, so that a batch of 50 runs in the background and the
module stays fast; a merchant-bound POS key is made with the operators' own code (`cli.py`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local_stack.stack import LocalStack
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.use_cases import create_api_key
from loyalty_engine.instruments.numbers import is_valid_number
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.wiring import BATCH_ISSUER, BATCH_QUEUE, EXPORT_BUCKET, INSTRUMENT_API, INSTRUMENT_ROUTES

TIMEOUT = 30
SYNC_LIMIT = 10
BACKGROUND_COUNT = 50
GROUP = "demo"
SERIES = {
    "name": "Gift cards",
    "kind": "gift_card",
    "prefix": "6012",
    "length": 16,
    "issuer_group": "stores",
    "acceptor_group": "stores",
    "currency": "EUR",
    "min_value": "5.00",
    "max_value": "500.00",
    "validity": {"value": 3, "unit": "years"},
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNC_BATCH_LIMIT", str(SYNC_LIMIT))  # read by the handlers' settings
        with LocalStack.start(retry_delay_s=0) as running:
            yield running


@pytest.fixture(scope="module")
def pos_key(stack: LocalStack) -> str:
    """A shop key bound to the merchant store-1 (`loyalty-admin create-key --merchant store-1`)."""
    return create_api_key(
        GroupStore(client(), stack.table_name), GROUP, ("shop",), name="till 1", merchant_id="store-1"
    )


def _call(stack: LocalStack, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, stack.api_url + path, headers=headers, timeout=TIMEOUT, **kwargs)


def _admin(stack: LocalStack, method: str, path: str, **kwargs: Any) -> requests.Response:
    return _call(stack, method, path, stack.keys[GROUP]["admin"], **kwargs)


@pytest.fixture(scope="module")
def series(stack: LocalStack) -> str:
    """The merchant group `stores`, the merchant store-1 in it, and the gift card series `gift`."""
    created = _admin(stack, "PUT", "/v1/merchant-groups/stores", json={"name": "All stores"})
    assert created.status_code == 201, created.text
    merchant = {"name": "Store 1", "store_id": "S001", "merchant_groups": ["stores"]}
    created = _admin(stack, "PUT", "/v1/merchants/store-1", json=merchant)
    assert created.status_code == 201, created.text
    created = _admin(stack, "PUT", "/v1/series/gift", json=SERIES)
    assert created.status_code == 201, created.text
    return "gift"


def _export_rows(stack: LocalStack, uri: str) -> list[dict[str, str]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    assert bucket == stack.bucket_name(EXPORT_BUCKET.name)
    body = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_stack_has_the_exports_bucket_and_the_batch_queue_feeding_the_batch_issuer(
    stack: LocalStack,
) -> None:
    bucket = stack.bucket_name(EXPORT_BUCKET.name)
    stack.client("s3").head_bucket(Bucket=bucket)
    delivery = stack.delivery(BATCH_ISSUER.name)
    assert delivery.queue is stack.queue(BATCH_QUEUE.name)
    assert delivery.batch_size == 1
    assert stack.queue(BATCH_QUEUE.name).spec.source is None  # fed by the functions, not by S3
    info = stack.info()
    assert info[EXPORT_BUCKET.env.lower()] == bucket
    assert info[BATCH_QUEUE.env.lower()] == stack.queue(BATCH_QUEUE.name).url


@pytest.mark.parametrize("route", INSTRUMENT_ROUTES, ids=lambda route: f"{route.method} {route.path}")
def test_the_gateway_sends_every_instrument_route_to_the_instrument_api(
    stack: LocalStack, route: Any
) -> None:
    path = re.sub(r"\{[a-z_]+\}", "x-1", route.path)
    match = stack.gateway.router.match(route.method, path)
    assert match.route == route
    assert match.function == INSTRUMENT_API


def test_a_batch_above_the_sync_limit_is_issued_by_the_queue_worker_with_its_export(
    stack: LocalStack, series: str, pos_key: str
) -> None:
    worker = stack.delivery(BATCH_ISSUER.name)
    before = worker.invocations
    path = f"/v1/series/{series}/batches"
    accepted = _admin(stack, "POST", path, json={"batch_id": "bg-1", "count": BACKGROUND_COUNT})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "pending"
    assert accepted.json()["export"] is None
    stack.wait_for_queues(TIMEOUT)
    assert worker.invocations == before + 1
    assert worker.failed_invocations == 0

    batch = _admin(stack, "GET", f"{path}/bg-1")
    assert batch.status_code == 200, batch.text
    view = batch.json()
    bucket = stack.bucket_name(EXPORT_BUCKET.name)
    assert view["status"] == "completed"
    assert (view["issued"], view["progress"]) == (BACKGROUND_COUNT, 1.0)
    assert view["export"] == f"s3://{bucket}/exports/{GROUP}/{series}/bg-1.csv"

    rows = _export_rows(stack, view["export"])
    numbers = [row["number"] for row in rows]
    assert len(numbers) == len(set(numbers)) == BACKGROUND_COUNT
    assert all(n.startswith("6012") and len(n) == 16 and is_valid_number(n) for n in numbers)
    assert {(row["series_id"], row["batch_id"], row["kind"], row["currency"]) for row in rows} == {
        (series, "bg-1", "gift_card", "EUR")
    }
    # The instruments themselves were written: a till finds a number of the export, not yet sold.
    found = _call(stack, "GET", f"/v1/instruments/{numbers[-1]}", pos_key)
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "issued"

    replay = _admin(stack, "POST", path, json={"batch_id": "bg-1", "count": BACKGROUND_COUNT})
    assert replay.status_code == 201, "the completed batch is answered again, not queued again"
    assert replay.json()["export"] == view["export"]
    stack.wait_for_queues(TIMEOUT)
    assert worker.invocations == before + 1


def test_a_batch_within_the_sync_limit_is_issued_during_the_call(stack: LocalStack, series: str) -> None:
    worker = stack.delivery(BATCH_ISSUER.name)
    before = worker.invocations
    created = _admin(stack, "POST", f"/v1/series/{series}/batches", json={"batch_id": "now-1", "count": 10})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "completed"
    assert len(_export_rows(stack, created.json()["export"])) == SYNC_LIMIT
    stack.wait_for_queues(TIMEOUT)
    assert worker.invocations == before  # nothing was queued


def test_point_of_sale_calls_act_as_the_keys_merchant_through_the_gateway(
    stack: LocalStack, series: str, pos_key: str
) -> None:
    created = _admin(stack, "POST", f"/v1/series/{series}/batches", json={"batch_id": "pos-1", "count": 2})
    assert created.status_code == 201, created.text
    number = _export_rows(stack, created.json()["export"])[0]["number"]
    sale = {"activation_id": "T1-0001", "value": "25.00"}
    unbound = _call(
        stack, "POST", f"/v1/instruments/{number}/activations", stack.keys[GROUP]["shop"], json=sale
    )
    assert unbound.status_code == 403, unbound.text
    assert unbound.json()["code"] == "merchant_required"
    sold = _call(stack, "POST", f"/v1/instruments/{number}/activations", pos_key, json=sale)
    assert sold.status_code == 201, sold.text
    assert sold.json()["instrument"]["balance"] == "25.00"


def test_the_instruments_demo_scenario_runs_green(stack: LocalStack) -> None:
    from local_stack.demo_instruments import run_instruments_scenario

    out = io.StringIO()
    # Other ids and number prefixes than the demo's own, and a background batch above this module's limit.
    result = run_instruments_scenario(stack, out=out, suffix="-t", prefix="629", count=3 * SYNC_LIMIT)
    assert result.ok, out.getvalue()
    text = out.getvalue()
    assert "all" in text.splitlines()[-1]
    assert f"exports/{GROUP}/gift-t/xmas-2026-t.csv  (30 numbers" in text
