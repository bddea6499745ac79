"""The local stack of the schedule tests (test_local_schedules.py, test_local_run_job.py): its
module-scoped fixtures (a test module binds them by name: one stack per module), the tiered
program with one member, the upgrade occurrence fired, and the API call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.schedules import Firing
from local_stack.stack import LocalStack
from loyalty_engine.wiring import FUNCTIONS, JOB_QUEUE

TIMEOUT = 30
GROUP = "demo"
PROGRAM = "sched-club"
CARD = "SCHED-0001"
GMT1 = timezone(timedelta(hours=1))
REPO = Path(__file__).resolve().parents[2]
TARGET = next(function for function in FUNCTIONS if function.schedule_target)
WORKER = next(f for f in FUNCTIONS if f.queue_trigger is not None and f.queue_trigger.queue == JOB_QUEUE.name)
TIERED = {
    "name": "Scheduled club",
    "kind": "tiered",
    "currency": "EUR",
    "starts_at": "2025-01-01T00:00:00+01:00",
    "ends_at": "2099-01-01T00:00:00+01:00",
    "card_codes": {"generation": "manual"},
    "nq_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
    "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
    "tier_settings": {
        "max_tier_downgrade": 1,
        "upgrade": {"first_run_at": "2025-01-01T00:00:00+01:00", "periodicity": "daily"},
        "downgrade": {
            "mode": "calendar",
            "first_run_at": "2026-01-01T00:00:00+01:00",
            "periodicity": "yearly",
        },
        "tiers": [
            {"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0},
            {"rank": 2, "name": "Silver", "entry_threshold": 500, "downgrade_threshold": 400},
            {"rank": 3, "name": "Gold", "entry_threshold": 2000, "downgrade_threshold": 1500},
        ],
    },
}
EXPRESSIONS = {
    "tier-upgrade": "cron(0 0 * * ? *)",
    "tier-downgrade": "cron(0 0 1 1 ? *)",
    "expire-points": "cron(0 0 * * ? *)",
    "reconcile": "cron(0 3 * * ? *)",
}


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local") / "stack.json"


@pytest.fixture(scope="module")
def stack(state_file: Path) -> Iterator[LocalStack]:
    with LocalStack.start(state_file=state_file) as running:  # the clock stands still
        yield running


def _call(stack: LocalStack, method: str, path: str, role: str = "admin", **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {stack.keys[GROUP][role]}"}
    response = requests.request(method, stack.api_url + path, headers=headers, timeout=TIMEOUT, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture(scope="module")
def program(stack: LocalStack) -> dict[str, Any]:
    """The tiered program, and one member with 650 Q points (Silver's threshold is 500)."""
    created = _call(stack, "PUT", f"/v1/programs/{PROGRAM}", json=TIERED)
    _call(stack, "POST", f"/v1/programs/{PROGRAM}/members", "shop", json={"card_code": CARD})
    ordered_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    order = {"order_id": "S-1", "amount": "650.00", "currency": "EUR", "ordered_at": ordered_at}
    earned = _call(stack, "POST", f"/v1/members/{CARD}/orders", "shop", json=order)
    assert earned["earned"]["q"] == 650
    return dict(created)


_started = datetime.now(UTC)  # before the schedules exist: no firing is earlier


def _next_midnight() -> datetime:
    """The first 00:00 GMT+1 after now (after the schedules' StartDate, the time of the PUT)."""
    local = datetime.now(GMT1)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)


@pytest.fixture(scope="module")
def finished() -> Iterator[list[Any]]:
    """The runs closed (the job handlers' `_finished`, called once per completed run)."""
    from loyalty_engine.handlers import jobs

    closed: list[Any] = []
    original = jobs._finished

    def record(summary: Any) -> None:
        closed.append(summary)
        original(summary)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "_finished", record)
        yield closed


@pytest.fixture(scope="module")
def upgrade(stack: LocalStack, program: dict[str, Any], finished: list[Any]) -> tuple[datetime, list[Firing]]:
    """The clock moved over the next upgrade occurrence (00:00 GMT+1), the runs done."""
    midnight = _next_midnight()
    worker = stack.delivery(WORKER.name)
    before = worker.invocations
    fired = stack.advance_clock(midnight + timedelta(minutes=1))
    assert worker.invocations - before >= 16, "the JobWorker got the shards through its delivery loop"
    return midnight, fired


def _mine(fired: list[Firing], job: str) -> list[Firing]:
    return [f for f in fired if f.event.get("program_id") == PROGRAM and f.event.get("job") == job]
