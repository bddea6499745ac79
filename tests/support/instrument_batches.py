"""The world of the pre-issue batch tests (test_instrument_batch*.py; see test_instrument_batches.py's
docstring): the sample gift card series and the nested gift-vip, the export bucket and the batch
queue, and a run of run_batch."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3

from loyalty_engine.instruments import series_use_cases as series_logic
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.numbers import is_valid_number
from loyalty_engine.instruments.series_use_cases import run_batch
from tests.support.api import call, load_event
from tests.support.aws import fresh_caches
from tests.support.instruments import (
    ADMIN,
    GIFT,
    GROUP,
    build_world,
    exported_rows,
    exports_and_queue,
    instruments_in_table,
    ok,
)
from tests.support.queues import receive_all

SAMPLE_SERIES = json.loads(load_event("api_put_series")["body"])
VIP_PREFIX = "60125"
SECRET = "00112233445566778899aabbccddeeff"
SYNC_LIMIT = 50
CHUNK = 50


class Crash(Exception):
    """Injected: the worker dies here."""


@dataclass
class World:
    client: Any
    table: str
    s3: Any
    sqs: Any
    queue_url: str
    bucket: str

    def create(self, batch_id: str, count: int) -> dict[str, Any]:
        """POST the batch through the API (202 above the sync limit: queued, nothing issued yet)."""
        reply = call(
            "api_create_batch",
            ADMIN,
            path={"series_id": GIFT},
            body={"batch_id": batch_id, "count": count},
        )
        assert reply.status == (202 if count > SYNC_LIMIT else 201), reply.body
        return reply.body

    def batch(self, batch_id: str) -> dict[str, Any]:
        return ok(call("api_get_batch", ADMIN, path={"series_id": GIFT, "batch_id": batch_id}), 200)

    def queued(self) -> list[dict[str, Any]]:
        return receive_all(self.sqs, self.queue_url)

    def check_issued(
        self, batch_id: str, count: int, stored: list[dict[str, str]] | None = None
    ) -> list[str]:
        """The batch completed with exactly `count` numbers, the same in the export and the table
        (`stored`: the table's instrument items, if already scanned)."""
        view = self.batch(batch_id)
        assert (view["status"], view["issued"], view["progress"]) == ("completed", count, 1.0), view
        key = f"exports/{GROUP}/{GIFT}/{batch_id}.csv"
        assert view["export"] == f"s3://{self.bucket}/{key}"
        rows = exported_rows(self.s3, key)
        numbers = [row["number"] for row in rows]
        assert len(numbers) == count
        assert len(set(numbers)) == count, "a number is exported twice"
        assert all(len(n) == 16 and n.startswith("6012") and is_valid_number(n) for n in numbers)
        assert not [n for n in numbers if n.startswith(VIP_PREFIX)], "a number of the nested series"
        assert {(row["series_id"], row["batch_id"], row["kind"], row["currency"]) for row in rows} == {
            (GIFT, batch_id, "gift_card", "EUR")
        }
        if stored is None:
            stored = instruments_in_table(self.client, self.table, batch_id)
        stored = [item for item in stored if item["batch_id"] == batch_id]
        assert len(stored) == count, "instruments outside the export, or missing"
        assert {item["number"] for item in stored} == set(numbers)
        return numbers


def batch_world(table, monkeypatch) -> Iterator[World]:
    """The `world` fixture of the batch tests: `world = pytest.fixture(batch_world, name="world")`."""
    client, name = table
    region = os.environ["AWS_DEFAULT_REGION"]
    s3, sqs = boto3.client("s3", region_name=region), boto3.client("sqs", region_name=region)
    bucket, url = exports_and_queue(s3, sqs, region)
    monkeypatch.setenv("EXPORT_BUCKET", bucket)
    monkeypatch.setenv("BATCH_QUEUE_URL", url)
    monkeypatch.setenv("SYNC_BATCH_LIMIT", str(SYNC_LIMIT))
    monkeypatch.setattr(series_logic, "CHUNK", CHUNK)
    monkeypatch.setattr(series_logic, "new_series_secret", lambda: SECRET)  # the same numbers every run
    fresh_caches()
    build_world()
    vip = {**SAMPLE_SERIES, "name": "VIP gift cards", "prefix": VIP_PREFIX}
    ok(call("api_put_series", ADMIN, path={"series_id": "gift-vip"}, body=vip))
    yield World(client, name, s3, sqs, url, bucket)
    fresh_caches()


def run(batch_id: str, remaining_ms: Callable[[], float] = lambda: 900_000) -> Any:
    batch = run_batch(instrument_services(), GROUP, GIFT, batch_id, remaining_ms)
    assert batch is not None
    return batch


def counter() -> int:
    series = instrument_services().series.series(GROUP, GIFT)
    assert series is not None
    return series.next_index
