"""A group's quiet period: its files wait until none arrived for a while, so that files uploaded
minutes apart still apply in date -> scope order."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from datetime import time as time_of_day
from typing import Any

import pytest

from loyalty_engine.handlers import imports
from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import (
    EARN,
    MASTER,
    VALID,
    attributions,
    catalog,
    earn,
    no_failures,
    reward,
)
from tests.support.import_state import bucket_keys, snapshot
from tests.support.imports import BUCKET, ImportContext, deliver, report, skipped_codes, sqs_event, upload


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


class RecordingQueue:
    """Stands for the import queue: keeps what the importer sends back, with its delay."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], int]] = []

    def send(self, body: dict[str, Any], delay_s: int = 0) -> None:
        self.sent.append((body, delay_s))

    def take(self) -> list[tuple[dict[str, Any], int]]:
        sent, self.sent = self.sent, []
        return sent


class WallClock:
    def __init__(self) -> None:
        self.now = time.time()  # S3's LastModified is real time: start from it

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def quiet(world):
    svc = import_services()
    queue, wall = RecordingQueue(), WallClock()
    svc.queue, svc.wall_clock, svc.quiet_period_s = queue, wall, 120
    return queue, wall


def _drain() -> None:
    no_failures(imports.handler(sqs_event({"drain": {"group": "demo"}}), ImportContext()))


def test_files_uploaded_apart_within_the_period_apply_in_order(world, quiet):
    queue, wall = quiet
    world.enrol("CC0001", "CC0002")
    earn_key = upload(world.s3, EARN, earn(f"coffee;CC0001;A-1;1;;{VALID}", f"coffee;CC0002;A-2;1;;{VALID}"))
    no_failures(deliver(earn_key))  # the earn file's notification: too early, sent back delayed
    ((body, delay),) = queue.take()
    assert body == {"drain": {"group": "demo"}}
    assert 110 <= delay <= 121
    assert snapshot()["jobs"] == {}, "nothing applied, no job yet"

    # The catalog of the same day (an earlier scope) arrives within the period. (S3 stamps an
    # upload with the real time; the importer's wall clock is moved on instead of waiting.)
    master_key = upload(world.s3, MASTER, catalog(reward("coffee", stock=10)))
    no_failures(deliver(master_key))
    ((_, delay),) = queue.take()
    assert 110 <= delay <= 121

    wall.now += 100  # the earn file's drain, 100 s on: the group is not quiet yet
    _drain()
    ((_, delay),) = queue.take()
    assert 10 <= delay <= 21
    assert snapshot()["jobs"] == {}

    wall.now += 30  # quiet now: the drain applies the catalog first, then the earn file
    _drain()
    assert queue.take() == []
    jobs = snapshot()["jobs"]
    assert {name: job["state"] for name, job in jobs.items()} == {MASTER: "completed", EARN: "completed"}
    summary, _ = report(world.s3, EARN)
    assert (summary["applied"], summary["skipped"]) == (2, 0)
    assert [a["attribution_id"] for a in attributions("CC0002")] == ["A-2"]
    assert bucket_keys(world.s3, "incoming/") == []


def test_a_delayed_drain_that_fires_early_waits_again(world, quiet):
    queue, wall = quiet
    key = upload(world.s3, MASTER, catalog(reward("coffee")))
    no_failures(deliver(key))
    queue.take()
    wall.now += 60
    _drain()  # delivered early (a clock skew, a manual replay): sent back for what is left
    ((_, delay),) = queue.take()
    assert 55 <= delay <= 61
    assert snapshot()["jobs"] == {}
    wall.now += 61
    _drain()
    assert queue.take() == []
    assert snapshot()["jobs"][MASTER]["state"] == "completed"


def test_a_group_may_set_its_own_quiet_period(world, quiet):
    queue, _ = quiet
    reply = call("api_put_group_settings", ADMIN, body={"import_quiet_period_s": 0})
    assert reply.status == 200, reply.body
    no_failures(deliver(upload(world.s3, MASTER, catalog(reward("coffee")))))
    assert queue.take() == []
    assert snapshot()["jobs"][MASTER]["state"] == "completed"


def test_a_file_uploaded_before_midnight_and_applied_after_it_keeps_its_upload_day(world, quiet):
    """earn_date must be "the import day or later" (seed 002): the day the partner uploaded the
    file, in GMT+1. Uploaded at 23:59, a file waits out the quiet period (and the queue's 30 s,
    and the files before it) and starts after midnight: its lines dated that evening applied.
    Before, the import day was the import's start, so they were skipped as earn_date_in_past."""
    queue, wall = quiet
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("coffee")))
    if datetime.now(GMT1).time() > time_of_day(23, 59, 50):
        time.sleep(15)  # S3 stamps the upload with the real time: not across a real midnight
    day = datetime.now(GMT1).date()
    late = f"{day} 23:59:59"  # the upload's evening, GMT+1
    until = f"{day + timedelta(days=30)} 00:00:00"
    key = upload(world.s3, EARN, earn(f"coffee;CC0001;A-1;1;{late};{day} 00:00:00;{until}"))
    assert world.s3.head_object(Bucket=BUCKET, Key=key)["LastModified"].astimezone(GMT1).date() == day
    # the importer starts the files at 00:00:30 the next day (GMT+1), once the group is quiet
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), GMT1)
    world.at((next_midnight + timedelta(seconds=30)).astimezone(UTC))
    no_failures(deliver(key))
    queue.take()
    wall.now += 121
    _drain()

    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {}
    assert (summary["applied"], summary["skipped"]) == (1, 0)
    (owned,) = attributions("CC0001")
    assert owned["earned_at"] == datetime.fromisoformat(f"{day}T23:59:59+01:00").astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


GMT1 = timezone(timedelta(hours=1))
