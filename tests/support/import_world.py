"""The import tests' world: bucket, queue, group, a program with imported card codes, members."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loyalty_engine.access.models import GroupSettings, LoyaltyGroup
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call
from tests.support.aws import fresh_caches
from tests.support.clock import FakeClock
from tests.support.imports import create_import_resources

PROGRAM = "silver"
SIMPLE_PROGRAM = {
    "name": "Silver club",
    "kind": "simple",
    "currency": "EUR",
    "starts_at": "2010-01-01T00:00:00+01:00",
    "card_codes": {"generation": "manual"},
    "nq_points": {"conversion_rate": "1", "rounding": "down"},
    "q_points": {"conversion_rate": "1", "rounding": "down"},
}


class ImportWorld:
    def __init__(self, s3: Any, sqs: Any, clock: FakeClock):
        self.s3 = s3
        self.sqs = sqs
        self.clock = clock

    def at(self, moment: datetime) -> None:
        self.clock.now = moment

    def enrol(self, *cards: str, program: str = PROGRAM) -> None:
        for card in cards:
            reply = call("api_enrol_member", SHOP, path={"program_id": program}, body={"card_code": card})
            assert reply.status == 201, reply.body

    def add_program(self, program_id: str) -> None:
        body = SIMPLE_PROGRAM if program_id == PROGRAM else {**SIMPLE_PROGRAM, "name": f"Club {program_id}"}
        reply = call("api_put_program", ADMIN, path={"program_id": program_id}, body=body)
        assert reply.status == 201, reply.body

    def add_vip_tier(self, name: str, program: str = PROGRAM) -> None:
        """Give the program a VIP tier (NQ x2), for vip files."""
        body = {**SIMPLE_PROGRAM, "vip_tiers": [{"name": name, "nq_multiplier": "2"}]}
        reply = call("api_put_program", ADMIN, path={"program_id": program}, body=body)
        assert reply.status == 200, reply.body


def make_world(null_erases: bool = False) -> ImportWorld:
    s3, sqs = create_import_resources()
    fresh_caches()
    clock = FakeClock(datetime(2018, 8, 1, 9, 0, tzinfo=UTC))
    default_context().clock = clock
    import_services().clock = clock
    import_services().groups.create_group(
        LoyaltyGroup(
            group_id="demo",
            name="Demo",
            settings=GroupSettings(null_erases=null_erases),
            created_at=datetime(2010, 1, 1, tzinfo=UTC),
        )
    )
    world = ImportWorld(s3, sqs, clock)
    world.add_program(PROGRAM)
    return world
