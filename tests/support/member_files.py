"""Member and VIP files: the club program they enrol into, their columns, and lines."""

from __future__ import annotations

import json

from tests.integration.conftest import ADMIN
from tests.support.api import call, load_event
from tests.support.import_world import ImportWorld

DAY = "20180801"
VIP_COLUMNS = "card_code;vip_tier;action;reason"
CLUB = "club"  # a tiered program with imported card codes and a VIP tier `staff` (NQ x2)
VIPS = f"demo_vip_{CLUB}_{DAY}.csv"


def lines(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def add_club(world: ImportWorld, generation: str = "manual", program_id: str = CLUB) -> None:
    """The sample tiered program (Blue, Silver, Gold; VIP `staff`: NQ x2), started in 2010."""
    body = json.loads(load_event("api_put_program")["body"])
    body["starts_at"] = "2010-01-01T00:00:00+01:00"
    body["card_codes"] = {"generation": generation, "prefix": "2990", "length": 13}
    body["name"] = f"Club {program_id}"
    reply = call("api_put_program", ADMIN, path={"program_id": program_id}, body=body)
    assert reply.status == 201, reply.body
