from __future__ import annotations

import pytest

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from tests.support.api import call, load_event
from tests.support.clock import FakeClock

ADMIN = Caller(group_id="demo", key_id="01JD0000000000000000000001", scopes=("admin",))
SHOP = Caller(group_id="demo", key_id="01JD0000000000000000000002", scopes=("shop",))
OTHER_GROUP = Caller(group_id="demo-b", key_id="01JD0000000000000000000003", scopes=("admin",))
CARD = "2990000000017"


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
