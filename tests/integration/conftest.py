from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from tests.support.api import call, load_event
from tests.support.aws import fresh_caches
from tests.support.clock import FakeClock
from tests.support.concurrency import threaded_moto

ADMIN = Caller(group_id="demo", key_id="01JD0000000000000000000001", scopes=("admin",))
SHOP = Caller(group_id="demo", key_id="01JD0000000000000000000002", scopes=("shop",))
OTHER_GROUP = Caller(group_id="demo-b", key_id="01JD0000000000000000000003", scopes=("admin",))
CARD = "2990000000017"


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto's threaded server with the table, for requests from many threads at once
    (tests/support/concurrency.py); its endpoint."""
    with threaded_moto() as endpoint:
        yield endpoint


@pytest.fixture
def clock(table) -> FakeClock:
    fake = FakeClock()
    default_context().clock = fake
    return fake


@pytest.fixture
def program(clock) -> dict:
    """The sample tiered program (events/api_put_program.json), created through the API."""
    reply = call("api_put_program", ADMIN)
    assert reply.status == 201, reply.body
    return reply.body


@pytest.fixture
def member(program) -> dict:
    reply = call("api_enrol_member", SHOP)
    assert reply.status == 201, reply.body
    return reply.body


def order_body(**overrides) -> dict:
    body = load_event("api_earn_order")["body"]
    import json

    return {**json.loads(body), **overrides}


@pytest.fixture
def world(table):
    """Import bucket and queue, the group `demo`, and the program `silver` with imported card codes."""
    from tests.support.import_world import make_world

    return make_world()


@pytest.fixture
def funded(member) -> dict:
    """The sample member with 1299 NQ points available (the sample order, holding period over)."""
    earned = call("api_earn_order", SHOP)
    assert earned.status == 201, earned.body
    assert earned.body["balances"]["nq"]["available"] == 1299
    return member


@pytest.fixture
def scheduler(table, monkeypatch) -> Any:
    """The schedule group in moto, named in the functions' environment as CDK names it
    (test_schedule_sync*.py)."""
    from tests.support.schedule_sync import DLQ_ARN, GROUP_NAME, REGION, ROLE_ARN, TARGET_ARN

    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=GROUP_NAME)
    for name, value in {
        "SCHEDULE_GROUP": GROUP_NAME,
        "SCHEDULER_ROLE_ARN": ROLE_ARN,
        "JOB_TARGET_ARN": TARGET_ARN,
        "SCHEDULE_DLQ_ARN": DLQ_ARN,
    }.items():
        monkeypatch.setenv(name, value)
    fresh_caches()
    return client


@pytest.fixture
def now(scheduler) -> datetime:
    """The fake clock at the current second, with the schedule group (test_schedule_sync*.py)."""
    moment = datetime.now(UTC).replace(microsecond=0)  # Scheduler refuses a start date in the past
    default_context().clock = FakeClock(moment)
    return moment
