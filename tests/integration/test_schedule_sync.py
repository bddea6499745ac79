"""The program schedules brought in line with the table (`tiers.schedule_use_cases`), on moto:
after the schedule group was re-created (every schedule gone), with stray and wrong schedules,
with a program the index does not show, a program saved during the sync, a failing program,
and through its two doors: `loyalty-admin sync-schedules` and the ScheduleSync function (the
stack's custom resource, answering CloudFormation's pre-signed URL)."""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from loyalty_engine import cli
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers import schedule_sync as sync_handler
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY
from loyalty_engine.tiers import schedule_store
from loyalty_engine.tiers.jobs import schedule_name
from loyalty_engine.tiers.schedule_use_cases import (
    ScheduleSyncServices,
    schedule_sync_services,
    sync_all_schedules,
)
from loyalty_engine.wiring import PROGRAM_SCHEDULES
from tests.support.api import call
from tests.support.aws import fresh_caches
from tests.support.clock import FakeClock
from tests.support.jobs import SAMPLE

REGION = "eu-west-1"
GROUP_NAME = "loyalty-programs"
TARGET_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:JobStarter"
ROLE_ARN = "arn:aws:iam::123456789012:role/scheduler-invokes-job-starter"
DLQ_ARN = "arn:aws:sqs:eu-west-1:123456789012:schedules-dlq"
DEMO = Caller(group_id="demo", key_id="01JD0000000000000000000001", scopes=("admin",))
OTHER = Caller(group_id="demo-b", key_id="01JD0000000000000000000003", scopes=("admin",))
SIMPLE = {k: v for k, v in SAMPLE.items() if k != "tier_settings"} | {"kind": "simple"}


@pytest.fixture
def scheduler(table, monkeypatch) -> Any:
    """The schedule group in moto, named in the functions' environment as CDK names it."""
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
    moment = datetime.now(UTC).replace(microsecond=0)  # Scheduler refuses a start date in the past
    default_context().clock = FakeClock(moment)
    return moment


def services(now: datetime) -> ScheduleSyncServices:
    built = schedule_sync_services(
        retry_attempts=PROGRAM_SCHEDULES.retry_attempts, max_event_age_s=PROGRAM_SCHEDULES.max_event_age_s
    )
    built.clock = FakeClock(now)
    return built


def schedules(client: Any) -> dict[str, dict]:
    """Every schedule of the group by name, as Scheduler describes it (minus volatile fields)."""
    found = {}
    for entry in client.list_schedules(GroupName=GROUP_NAME)["Schedules"]:
        schedule = client.get_schedule(GroupName=GROUP_NAME, Name=entry["Name"])
        for volatile in ("ResponseMetadata", "LastModificationDate", "CreationDate", "Arn"):
            schedule.pop(volatile, None)
        found[entry["Name"]] = schedule
    return found


def put_program(caller: Caller, program_id: str, body: dict | None = None) -> None:
    body = (body or SAMPLE) | {"name": f"Program {program_id}"}  # names are unique in a group
    reply = call("api_put_program", caller, path={"program_id": program_id}, body=body)
    assert reply.status in (200, 201), reply.body


def recreate_group(client: Any) -> None:
    """What re-creating the stack does to the schedules: the group, and all of them, are gone."""
    client.delete_schedule_group(Name=GROUP_NAME)
    client.create_schedule_group(Name=GROUP_NAME)


def stray(client: Any, name: str, program_input: Any) -> None:
    client.create_schedule(
        Name=name,
        GroupName=GROUP_NAME,
        ScheduleExpression="cron(0 1 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": TARGET_ARN, "RoleArn": ROLE_ARN, "Input": json.dumps(program_input)},
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


# ---------------------------------------------------------------- the ScheduleSync function


class _Answers(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cloudformation() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for CloudFormation's pre-signed response URL: (url, the answers PUT there)."""
    handler = type("Answers", (_Answers,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/answer?signed", handler.received
    server.shutdown()
    server.server_close()


class Context:
    function_name = "ScheduleSync"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ScheduleSync"
    aws_request_id = "sync-request"
    log_stream_name = "2027/01/01/[$LATEST]abc"


def custom_resource_event(url: str, request_type: str) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/LoyaltyEngine-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "ScheduleSyncD7286581",
        "ResourceType": "Custom::ProgramSchedulesSync",
        "ResourceProperties": {"ServiceToken": Context.invoked_function_arn, "DeployId": "20270101T000000Z"},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = "program-schedules-sync"
    return event


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_on_create_and_update_the_function_syncs_and_answers_success(
    scheduler, now, cloudformation, request_type
):
    url, answers = cloudformation
    put_program(DEMO, "club")
    expected = schedules(scheduler)
    recreate_group(scheduler)

    data = sync_handler.handler(custom_resource_event(url, request_type), Context())

    assert set(schedules(scheduler)) == set(expected)
    (answer,) = answers
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "program-schedules-sync"
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/LoyaltyEngine-dev/1",
        "req-1",
        "ScheduleSyncD7286581",
    )
    assert answer["Data"] == data == {"Programs": 1, "Deleted": 0, "Failed": 0}
    assert answer["Reason"].startswith(f"1 programs, 4 schedules in {GROUP_NAME}, 0 deleted")
    assert "[$LATEST]abc" in answer["Reason"]


def test_on_delete_the_function_answers_without_syncing(scheduler, now, cloudformation):
    url, answers = cloudformation
    stray(scheduler, "not-a-program-schedule", "text")
    sync_handler.handler(custom_resource_event(url, "Delete"), Context())
    (answer,) = answers
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {}
    assert set(schedules(scheduler)) == {"not-a-program-schedule"}


def test_a_failed_sync_answers_success_then_fails_the_invocation(scheduler, now, cloudformation, monkeypatch):
    """The deploy (or its rollback) goes on; the function's error alarm and dead-letter queue say it."""
    url, answers = cloudformation
    put_program(DEMO, "club")

    def failing(self, group, program, moment):
        raise ServiceUnavailable("Scheduler update_schedule failed: ThrottlingException")

    monkeypatch.setattr(schedule_store.ScheduleStore, "sync_program", failing)
    with pytest.raises(sync_handler.SyncIncomplete, match="demo/club"):
        sync_handler.handler(custom_resource_event(url, "Update"), Context())
    (answer,) = answers
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Programs": 0, "Deleted": 0, "Failed": 1}

    def crashing(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(default_context().programs), "all_program_keys", crashing)
    with pytest.raises(RuntimeError, match="a bug"):
        sync_handler.handler(custom_resource_event(url, "Update"), Context())
    assert answers[-1]["Status"] == "SUCCESS"
    assert "the sync failed (RuntimeError)" in answers[-1]["Reason"]


def test_invoked_directly_the_function_returns_the_report(scheduler, now):
    put_program(DEMO, "club")
    recreate_group(scheduler)
    report = sync_handler.handler({}, Context())
    assert (report["programs"], report["schedules"], report["failed"]) == (1, 4, [])
