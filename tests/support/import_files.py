"""Reward import files for the delivery tests: file names of a day, the columns of each scope, lines,
and what the API and the reports say of them afterwards."""

from __future__ import annotations

import re

from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call
from tests.support.import_world import PROGRAM
from tests.support.imports import report, upload

GENERATED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")  # 20 Crockford base32 characters


DAY = "20180801"
MASTER = f"demo_masterreward_{PROGRAM}_{DAY}.csv"
EARN = f"demo_earnreward_{PROGRAM}_{DAY}.csv"
BURN = f"demo_burnreward_{PROGRAM}_{DAY}.csv"
CATALOG_COLUMNS = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;is_auto_generated"
)
EARN_COLUMNS = "reward_id;card_code;attribution_id;quantity;earn_date;validity_start_date;validity_end_date"
BURN_COLUMNS = "card_code;attribution_id;burn_date;context"
VALID = "2018-08-01 00:00:00;2018-09-01 00:00:00"  # the validity window of the earn lines


def lines(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def catalog(*rows: str) -> str:
    return lines(CATALOG_COLUMNS, *rows)


def reward(external_id: str, name: str = "Reward", stock: int | None = 100, auto: bool = False) -> str:
    """A catalog line: limited to `stock` units, or auto-generated and unlimited."""
    if auto:
        return f"{external_id};{name};0;10;0;1;month;0;0;;1"
    return f"{external_id};{name};0;10;0;1;month;0;1;{stock};0"


def earn(*rows: str) -> str:
    return lines(EARN_COLUMNS, *rows)


def burn(*rows: str) -> str:
    return lines(BURN_COLUMNS, *rows)


def attributions(card: str) -> list[dict]:
    reply = call("api_list_member_rewards", SHOP, path={"card_code": card})
    assert reply.status == 200, reply.body
    return reply.body["attributions"]


def get_reward(external_id: str) -> dict:
    reply = call("api_get_reward", SHOP, path={"external_id": external_id})
    assert reply.status == 200, reply.body
    return reply.body


def no_failures(response: dict) -> None:
    assert response == {"batchItemFailures": []}


def summary_of(world, name: str) -> dict:
    return report(world.s3, name)[0]


def counts(world, name: str) -> tuple[int, int, int]:
    summary = summary_of(world, name)
    return summary["lines_read"], summary["applied"], summary["skipped"]


def add_program(program_id: str) -> None:
    from tests.support.import_world import SIMPLE_PROGRAM

    body = SIMPLE_PROGRAM | {"name": f"Program {program_id}"}
    reply = call("api_put_program", ADMIN, path={"program_id": program_id}, body=body)
    assert reply.status == 201, reply.body


def upload_day(world) -> list[str]:
    world.enrol("CC0001", "CC0002")
    return [
        upload(world.s3, MASTER, catalog(reward("coffee", stock=10), reward("tea", auto=True), "bad;;0;1")),
        upload(
            world.s3,
            EARN,
            earn(
                f"coffee;CC0001;A-1;2;;{VALID}",
                f"tea;CC0002;;1;;{VALID}",
                f"coffee;CC9999;A-2;1;;{VALID}",
            ),
        ),
        upload(world.s3, BURN, burn("CC0001;A-1;;first", "CC0001;A-1;;second", "CC0001;A-1;;third")),
    ]
