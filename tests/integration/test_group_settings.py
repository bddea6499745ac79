"""The loyalty group's settings through the real API handler on moto (`GET`/`PUT /v1/group/settings`),
and what `null_erases` does to a partner file once it is turned on through the API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, OTHER_GROUP, SHOP
from tests.support.api import call
from tests.support.import_world import PROGRAM
from tests.support.imports import deliver, report, skipped_codes, upload

COLUMNS = "external_id;name;monetary;nqp_value;description;holding_days;validity_interval_count;validity_interval_type;forced_validity;is_limited;max_attribution_count;c0"


def settings(caller: Caller = ADMIN) -> dict:
    reply = call("api_get_group_settings", caller)
    assert reply.status == 200, reply.body
    return reply.body


def put(body: object, caller: Caller = ADMIN) -> tuple[int, dict]:
    reply = call("api_put_group_settings", caller, body=body)
    return reply.status, reply.body


def test_a_group_without_settings_has_the_defaults(table):
    assert settings() == {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None}
    assert default_context().groups.get_group("demo") is None, "reading stores nothing"


def test_put_replaces_the_settings_and_the_same_body_again_changes_nothing(table, clock):
    assert put({"null_erases": True}) == (
        200,
        {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None},
    )
    stored = default_context().groups.get_group("demo")
    assert stored is not None
    assert (stored.group_id, stored.name, stored.created_at) == ("demo", "demo", clock.now)
    clock.advance(hours=1)
    assert put({"null_erases": True}) == (
        200,
        {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None},
    )
    assert default_context().groups.get_group("demo") == stored
    assert settings() == {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None}
    assert put({}) == (
        200,
        {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None},
    ), "a setting left out is back to its default"
    assert settings() == {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None}
    assert put({"import_quiet_period_s": 300}) == (
        200,
        {"null_erases": False, "import_quiet_period_s": 300, "audit_retention_days": None},
    )
    assert put({"audit_retention_days": 30})[1]["audit_retention_days"] == 30
    assert put({"audit_retention_days": 0})[0] == 422


def test_put_keeps_what_the_group_item_holds(table, clock):
    from tests.support.import_world import make_world

    make_world()  # the group `demo`, named "Demo", created in 2010
    assert put({"null_erases": True}) == (
        200,
        {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None},
    )
    stored = default_context().groups.get_group("demo")
    assert stored is not None
    assert (stored.name, stored.created_at) == ("Demo", datetime(2010, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "body",
    [
        {"null_erases": "yes"},
        {"null_erases": 1},
        {"null_erases": None},
        {"other": True},
        [],
        "true",
        {"import_quiet_period_s": -1},
        {"import_quiet_period_s": 901},
        {"import_quiet_period_s": "60"},
        {"import_quiet_period_s": 1.5},
    ],
)
def test_put_refuses_bodies_that_are_not_settings(table, body):
    assert put({"null_erases": True})[0] == 200
    status, answer = put(body)
    assert (status, answer["code"]) == (422, "validation_error"), answer
    assert answer["details"]
    assert settings() == {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None}


def test_the_settings_need_an_admin_key(table):
    for name in ("api_get_group_settings", "api_put_group_settings"):
        reply = call(name, SHOP)
        assert (reply.status, reply.body["code"]) == (403, "forbidden"), name
    assert settings() == {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None}


def test_a_group_reads_and_writes_only_its_own_settings(table):
    assert put({"null_erases": True}) == (
        200,
        {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None},
    )
    assert settings(OTHER_GROUP) == {
        "null_erases": False,
        "import_quiet_period_s": None,
        "audit_retention_days": None,
    }
    assert put(
        {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None}, OTHER_GROUP
    ) == (
        200,
        {"null_erases": False, "import_quiet_period_s": None, "audit_retention_days": None},
    )
    assert settings() == {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None}


def test_null_in_a_file_erases_once_the_setting_is_on(world):
    first = "\n".join(
        (
            COLUMNS,
            "gift;Gift;0;100;A gift;0;2;weeks;0;1;10;red",
        )
    )
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20180801.csv", first + "\n")
    null_line = "gift;Gift;0;100;NULL;0;2;weeks;0;1;10;NULL"
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20180802.csv", f"{COLUMNS}\n{null_line}\n")
    assert deliver(f"incoming/demo/demo_masterreward_{PROGRAM}_20180802.csv") == {"batchItemFailures": []}
    kept = call("api_get_reward", SHOP, path={"external_id": "gift"}).body
    assert (kept["description"], kept["custom"]) == ("A gift", {"c0": "red"}), "the setting is off: ignored"

    assert put({"null_erases": True}) == (
        200,
        {"null_erases": True, "import_quiet_period_s": None, "audit_retention_days": None},
    )
    name = f"demo_masterreward_{PROGRAM}_20180803.csv"
    key = upload(world.s3, name, f"{COLUMNS}\n{null_line}\n")
    assert deliver(key) == {"batchItemFailures": []}
    assert skipped_codes(report(world.s3, name)[1]) == {}
    erased = call("api_get_reward", SHOP, path={"external_id": "gift"}).body
    assert (erased["description"], erased["custom"]) == (None, {})
    assert (erased["name"], erased["nqp_value"]) == ("Gift", 100)
