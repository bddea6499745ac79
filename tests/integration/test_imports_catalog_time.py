"""A masterreward file is paced (the catalog is one partition): a chunk of large rewards (long
descriptions) takes its write units' worth of seconds, so a chunk must end within the time
margin the importer keeps before its Lambda's timeout. Before, a chunk was 4,999 lines whatever
their size: 4,999 rewards of 17 KB took 94 s at 900 units/s, past the 60 s margin, and updates
of the largest rewards (kept twice in their item) more than a Lambda's whole 15 minutes: the run
was killed inside the chunk every time, and the file never finished."""

from __future__ import annotations

import pytest

from loyalty_engine.handlers import imports
from loyalty_engine.imports.context import import_services
from loyalty_engine.kernel import pacing
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import MASTER
from tests.support.import_state import queued_messages
from tests.support.imports import ImportContext, notification, report, sqs_event, upload

MARGIN_MS = 1_000
COLUMNS = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;description"
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


class SimulatedTime:
    """The pacer's clock, and the runs' deadlines measured on it."""

    def __init__(self) -> None:
        self.t = 0.0
        self.deadline = 0.0
        self.lowest_ms = float("inf")

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.lowest_ms = min(self.lowest_ms, (self.deadline - self.t) * 1000)


class Lambda(ImportContext):
    def __init__(self, clock: SimulatedTime, remaining_ms: int):
        super().__init__(remaining_ms)
        self.clock = clock
        clock.deadline = clock.t + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return int((self.clock.deadline - self.clock.t) * 1000)


def test_a_run_never_works_past_its_deadline_on_a_catalog_of_large_rewards(world, monkeypatch):
    clock = SimulatedTime()
    monkeypatch.setattr(pacing, "now", clock.now)
    monkeypatch.setattr(pacing, "sleep", clock.sleep)
    monkeypatch.setattr(import_services(), "time_margin_ms", MARGIN_MS)
    monkeypatch.setattr(import_services(), "catalog_wcu_s", 900)
    description = "d" * 16_000  # a reward of ~17 write units
    rows = [f"r{n};Reward {n};0;10;0;1;month;0;1;5;{description}" for n in range(120)]
    bodies = [notification(upload(world.s3, MASTER, "\n".join([COLUMNS, *rows]) + "\n"))]
    runs = 0
    while bodies and runs < 30:
        runs += 1
        context = Lambda(clock, MARGIN_MS + 500)  # a run that has the margin and half a second
        assert imports.handler(sqs_event(*bodies), context) == {"batchItemFailures": []}
        bodies = queued_messages(world.sqs)
    assert clock.lowest_ms > 0, "a run went on past its deadline (killed mid-chunk)"
    assert runs > 1  # the margin was reached: the file went on in continuations
    summary, _ = report(world.s3, MASTER)
    assert (summary["state"], summary["lines_read"], summary["applied"]) == ("completed", 120, 120)
