"""A masterreward file writes the group's reward catalog (one DynamoDB partition) no faster than
the importer's catalog rate: every BatchWriteItem waits until the catalog units sent before it
fit in the time since the first, whatever else the import does."""

from __future__ import annotations

import pytest

from loyalty_engine.imports.context import import_services
from loyalty_engine.kernel import keys, pacing
from loyalty_engine.kernel.dynamo import client
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, report, upload

HEADER = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;description"
)
RATE = 40  # units per second
START = 1000.0  # the fake clock's first reading


class FakeTime:
    """Seconds that pass only when the importer waits (the test does not sleep)."""

    def __init__(self) -> None:
        self.now = START

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(pacing, "now", lambda: fake.now)
    monkeypatch.setattr(pacing, "sleep", fake.sleep)
    return fake


def test_a_catalog_file_is_written_at_the_catalog_rate(world, fake_time, monkeypatch):
    monkeypatch.setattr(import_services(), "catalog_wcu_s", RATE)
    monkeypatch.setattr(import_services(), "chunk_lines", 60)  # a checkpoint rides in the 2nd chunk
    catalog = keys.rewards_pk("demo")
    sent: list[tuple[float, int]] = []  # (time, catalog items) of every BatchWriteItem

    def record(params, **_):
        items = [r["PutRequest"]["Item"] for rs in params["RequestItems"].values() for r in rs]
        sent.append((fake_time.now, sum(1 for item in items if item["pk"]["S"] == catalog)))

    dynamodb = client()
    dynamodb.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", record)
    try:
        lines = [f"pace-{n:03d};Reward {n};0;10;0;1;month;0;1;100;Paced {n}" for n in range(150)]
        lines.insert(7, "bad-line;;0;10;0;1;month;0;1;100;no name")  # a skipped line: not in the catalog
        name = f"demo_masterreward_{PROGRAM}_20180801.csv"
        assert deliver(upload(world.s3, name, "\n".join([HEADER, *lines]) + "\n")) == {
            "batchItemFailures": []
        }
    finally:
        dynamodb.meta.events.unregister("provide-client-params.dynamodb.BatchWriteItem", record)

    summary, _ = report(world.s3, name)
    assert (summary["state"], summary["applied"], summary["skipped"]) == ("completed", 150, 1)
    catalog_requests = [(at, units) for at, units in sent if units]
    assert sum(units for _, units in catalog_requests) == 150  # each reward under 1 KB: 1 unit
    before = 0
    for at, units in catalog_requests:
        assert before <= RATE * (at - START) + 1e-6, "a request went out before its turn"
        before += units
    # and no slower than needed: the pacer slept only until the last request's turn, when the
    # ones before it (all but one request's units, at most 25) fitted. The clock is read for
    # that, not from the requests' times: with 8 writers in flight, the time recorded for a
    # request can lag behind its turn when another thread slept meanwhile (a flaky check).
    assert (150 - 25) / RATE <= fake_time.now - START <= (150 - 1) / RATE


def test_other_scopes_are_not_paced(world, fake_time, monkeypatch):
    monkeypatch.setattr(import_services(), "catalog_wcu_s", 1)
    world.enrol("CC0001", "CC0002")
    catalog = f"{HEADER}\nr1;Reward;0;10;0;1;month;0;1;1000;One\n"
    earn_header = "reward_id;card_code;attribution_id;quantity;context;validity_start_date;validity_end_date"
    grants = "\n".join(
        f"r1;CC000{1 + n % 2};A{n};1;web;2018-08-01 00:00:00;2018-09-01 00:00:00" for n in range(60)
    )
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20180801.csv", catalog)
    started = fake_time.now
    earn = upload(world.s3, f"demo_earnreward_{PROGRAM}_20180801.csv", f"{earn_header}\n{grants}\n")
    assert deliver(earn) == {"batchItemFailures": []}
    summary, _ = report(world.s3, f"demo_earnreward_{PROGRAM}_20180801.csv")
    assert (summary["state"], summary["applied"]) == ("completed", 60)
    assert fake_time.now - started <= 1.0  # only the one-line catalog file was paced (1 unit)
