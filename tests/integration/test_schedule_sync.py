"""The program schedules brought in line with the table (`tiers.schedule_use_cases`), on moto:
after the schedule group was re-created (every schedule gone), with stray and wrong schedules,
with a program the index does not show, a program saved during the sync, a failing program,
and through `loyalty-admin sync-schedules`. The ScheduleSync function (the stack's custom
resource): test_schedule_sync_resource.py."""

from __future__ import annotations

import json
import os

import boto3

from loyalty_engine import cli
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY
from loyalty_engine.tiers import schedule_store
from loyalty_engine.tiers.jobs import schedule_name
from loyalty_engine.tiers.schedule_use_cases import (
    sync_all_schedules,
)
from tests.support.aws import fresh_caches
from tests.support.schedule_sync import (
    DEMO,
    GROUP_NAME,
    OTHER,
    REGION,
    ROLE_ARN,
    SIMPLE,
    TARGET_ARN,
    put_program,
    recreate_group,
    schedules,
    services,
    stray,
)


def test_the_schedules_of_every_program_of_every_group_come_back_after_the_group_is_recreated(scheduler, now):
    put_program(DEMO, "club")  # tiered: four schedules
    put_program(DEMO, "coffee", SIMPLE)  # simple: expiry and reconciliation only
    put_program(OTHER, "club")
    made_by_the_api = schedules(scheduler)
    assert len(made_by_the_api) == 4 + 2 + 4

    recreate_group(scheduler)
    assert schedules(scheduler) == {}
    report = sync_all_schedules(services(now))

    assert schedules(scheduler) == made_by_the_api  # the same schedules, settings and all
    assert (report.programs, report.schedules, report.deleted, report.failed) == (3, 10, [], [])
    assert report.schedule_group == GROUP_NAME

    again = sync_all_schedules(services(now))  # nothing left to do: the same answer
    assert again == report
    assert schedules(scheduler) == made_by_the_api


def test_strays_are_deleted_and_wrong_schedules_corrected(scheduler, now):
    put_program(DEMO, "club")
    expected = schedules(scheduler)
    upgrade = schedule_name("demo", "club", "tier-upgrade")
    scheduler.update_schedule(  # changed by hand
        Name=upgrade,
        GroupName=GROUP_NAME,
        ScheduleExpression="cron(0 9 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": TARGET_ARN, "RoleArn": ROLE_ARN, "Input": "{}"},
    )
    gone = schedule_name("demo", "no-such-program", "reconcile")
    stray(scheduler, gone, {"group": "demo", "program_id": "no-such-program", "job": "reconcile"})
    stray(scheduler, "not-a-program-schedule", "just text")
    stray(scheduler, schedule_name("demo", "club", "tier-sideways"), {"group": "demo", "program_id": "club"})

    report = sync_all_schedules(services(now))

    assert schedules(scheduler) == expected
    assert sorted(report.deleted) == sorted(
        [gone, "not-a-program-schedule", schedule_name("demo", "club", "tier-sideways")]
    )
    assert report.failed == []


def test_the_schedules_of_a_program_the_index_does_not_show_are_kept_and_synced(scheduler, now):
    """A program saved a moment ago (gsi1 lags), or saved before programs were indexed."""
    put_program(DEMO, "club")
    client, table = boto3.client("dynamodb", region_name=REGION), os.environ["TABLE_NAME"]
    client.update_item(
        TableName=table,
        Key={PARTITION_KEY: {"S": keys.group_pk("demo")}, SORT_KEY: {"S": keys.program_sk("club")}},
        UpdateExpression="REMOVE gsi1pk, gsi1sk",
    )
    assert list(default_context().programs.all_program_keys()) == []
    expected = schedules(scheduler)
    scheduler.delete_schedule(Name=schedule_name("demo", "club", "reconcile"), GroupName=GROUP_NAME)

    report = sync_all_schedules(services(now))

    assert report.deleted == [] and report.failed == []
    assert report.programs == 1
    assert schedules(scheduler) == expected


def test_every_program_is_listed_by_group_from_the_index(scheduler, now):
    put_program(OTHER, "club")
    put_program(DEMO, "coffee", SIMPLE)
    put_program(DEMO, "club")
    assert list(default_context().programs.all_program_keys()) == [
        ("demo", "club"),
        ("demo", "coffee"),
        ("demo-b", "club"),
    ]


def test_a_program_saved_during_the_sync_ends_with_the_schedules_of_its_last_save(
    scheduler, now, monkeypatch
):
    put_program(DEMO, "club")
    tiered = schedules(scheduler)
    sync_program = schedule_store.ScheduleStore.sync_program
    saved = []

    def save_meanwhile(self, group, program, moment):
        sync_program(self, group, program, moment)
        if not saved:  # the API saves the program as simple, and syncs it, while the sync works
            saved.append(program.version)
            put_program(DEMO, "club", SIMPLE)

    monkeypatch.setattr(schedule_store.ScheduleStore, "sync_program", save_meanwhile)
    report = sync_all_schedules(services(now))

    after = schedules(scheduler)
    assert set(after) == {schedule_name("demo", "club", job) for job in ("expire-points", "reconcile")}
    assert after == {name: tiered[name] for name in after}
    assert report.schedules == 2 and report.failed == []


def test_a_program_that_cannot_be_synced_is_reported_and_its_schedules_left_alone(
    scheduler, now, monkeypatch
):
    put_program(DEMO, "club")
    put_program(OTHER, "club")
    before = schedules(scheduler)
    recreate_group(scheduler)
    for name, schedule in before.items():  # demo's schedules were kept; demo-b's are gone
        if json.loads(schedule["Target"]["Input"])["group"] == "demo":
            stray(scheduler, name, json.loads(schedule["Target"]["Input"]))
    sync_program = schedule_store.ScheduleStore.sync_program

    def failing_for_demo(self, group, program, moment):
        if group == "demo":
            raise ServiceUnavailable("Scheduler update_schedule failed: ThrottlingException")
        sync_program(self, group, program, moment)

    monkeypatch.setattr(schedule_store.ScheduleStore, "sync_program", failing_for_demo)
    report = sync_all_schedules(services(now))

    assert report.failed == ["demo/club: Scheduler update_schedule failed: ThrottlingException"]
    assert report.deleted == []  # demo's schedules are not strays: its sync failed
    assert (report.programs, report.schedules) == (1, 4)
    assert set(schedules(scheduler)) == set(before)
    assert "1 FAILED" in report.summary()


def test_nothing_is_deleted_when_the_programs_cannot_all_be_listed(scheduler, now, monkeypatch):
    put_program(DEMO, "club")
    before = schedules(scheduler)

    def unavailable(self):
        raise ServiceUnavailable("the database is busy; retry with the same idempotency key")
        yield  # pragma: no cover

    monkeypatch.setattr(type(default_context().programs), "all_program_keys", unavailable)
    report = sync_all_schedules(services(now))
    assert report.failed == [
        "listing the programs: the database is busy; retry with the same idempotency key"
    ]
    assert schedules(scheduler) == before


# ---------------------------------------------------------------- loyalty-admin sync-schedules


def test_the_cli_syncs_prints_the_report_and_exits_1_on_a_failure(scheduler, now, capsys, monkeypatch):
    put_program(DEMO, "club")
    expected = schedules(scheduler)
    recreate_group(scheduler)

    assert cli.main(["sync-schedules"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "schedule_group": GROUP_NAME,
        "programs": 1,
        "schedules": 4,
        "deleted": [],
        "failed": [],
    }
    assert "1 programs, 4 schedules" in err
    assert set(schedules(scheduler)) == set(expected)

    def failing(self, group, program, moment):
        raise ServiceUnavailable("Scheduler update_schedule failed: ThrottlingException")

    monkeypatch.setattr(schedule_store.ScheduleStore, "sync_program", failing)
    assert cli.main(["sync-schedules"]) == 1


def test_the_cli_names_the_missing_settings(table, monkeypatch, capsys):
    monkeypatch.delenv("SCHEDULE_GROUP", raising=False)
    fresh_caches()
    assert cli.main(["sync-schedules"]) == 2
    assert "SCHEDULE_GROUP" in capsys.readouterr().err
