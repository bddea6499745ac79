"""The schedule group, programs and schedules of the schedule sync tests (test_schedule_sync*.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.tiers.schedule_use_cases import (
    ScheduleSyncServices,
    schedule_sync_services,
)
from loyalty_engine.wiring import PROGRAM_SCHEDULES
from tests.support.api import call
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
