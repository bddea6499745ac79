"""The program schedules on the local stack: created by the API in moto's EventBridge
Scheduler, fired on the stack's virtual clock (schedule -> JobStarter -> Jobs queue ->
JobWorker). Real handlers throughout; the wiring names the functions, queues and schedule
settings. The operators' `run-job` against the stack: test_local_run_job.py.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local_stack import aws
from local_stack.schedules import Firing, ScheduleRunner
from local_stack.stack import LocalStack
from local_stack.virtual_clock import VirtualClock
from loyalty_engine.tiers.jobs import JOB_NAMES, JobRequest, schedule_name
from loyalty_engine.wiring import JOB_QUEUE, PROGRAM_SCHEDULES
from tests.support import local_schedules as fixtures
from tests.support.local_schedules import (
    CARD,
    EXPRESSIONS,
    GROUP,
    PROGRAM,
    TARGET,
    TIMEOUT,
    WORKER,
    _call,
    _mine,
    _started,
)

# The stack's module-scoped fixtures (tests/support/local_schedules.py), one stack per module.
finished = fixtures.finished
program = fixtures.program
stack = fixtures.stack
state_file = fixtures.state_file
upgrade = fixtures.upgrade


# ---------------------------------------------------------------- resources and environment


def test_schedule_group_and_the_functions_environment(stack: LocalStack) -> None:
    schedules = stack.resources.schedules
    assert schedules is not None
    assert schedules.group_name == f"loyalty-engine-{PROGRAM_SCHEDULES.name.lower()}-local"
    group = stack.client("scheduler").get_schedule_group(Name=schedules.group_name)
    assert group["State"] == "ACTIVE"
    assert os.environ[PROGRAM_SCHEDULES.group_env] == schedules.group_name
    assert os.environ[PROGRAM_SCHEDULES.role_env] == schedules.role_arn
    assert schedules.role_arn.startswith(f"arn:aws:iam::{aws.ACCOUNT_ID}:role/")
    assert os.environ[PROGRAM_SCHEDULES.target_env] == aws.function_arn(TARGET)
    assert aws.function_arn(TARGET).endswith(f":function:loyalty-engine-{TARGET.name.lower()}-local")
    assert os.environ[PROGRAM_SCHEDULES.dead_letter_env] == schedules.dlq_arn
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=schedules.dlq_url, AttributeNames=["QueueArn"]
    )
    assert attributes["Attributes"]["QueueArn"] == schedules.dlq_arn
    assert os.environ[JOB_QUEUE.env] == stack.queue(JOB_QUEUE.name).url
    assert stack.delivery(WORKER.name).queue.spec.name == JOB_QUEUE.name


def test_the_state_file_tells_the_schedule_settings(stack: LocalStack, state_file: Path) -> None:
    state = json.loads(state_file.read_text())
    schedules = stack.resources.schedules
    assert schedules is not None
    assert state["schedule_group"] == schedules.group_name
    assert state["job_target_arn"] == aws.function_arn(TARGET)
    assert state["table_name"] == stack.table_name


# ---------------------------------------------------------------- schedules created by the API


def test_a_tiered_program_gets_its_four_schedules(stack: LocalStack, program: dict[str, Any]) -> None:
    scheduler = stack.client("scheduler")
    schedules = stack.resources.schedules
    assert schedules is not None
    listed = scheduler.list_schedules(GroupName=schedules.group_name)["Schedules"]
    names = {schedule_name(GROUP, PROGRAM, job): job for job in JOB_NAMES}
    assert set(names) <= {schedule["Name"] for schedule in listed}
    for name, job in names.items():
        schedule = scheduler.get_schedule(GroupName=schedules.group_name, Name=name)
        assert schedule["ScheduleExpression"] == EXPRESSIONS[job], job
        assert schedule["ScheduleExpressionTimezone"] == "Etc/GMT-1"
        assert schedule["State"] == "ENABLED"
        target = schedule["Target"]
        assert target["Arn"] == aws.function_arn(TARGET)
        assert target["RoleArn"] == schedules.role_arn
        assert target["DeadLetterConfig"]["Arn"] == schedules.dlq_arn
        assert json.loads(target["Input"]) == {
            "group": GROUP,
            "program_id": PROGRAM,
            "job": job,
            "scheduled_at": "<aws.scheduler.scheduled-time>",
        }
        # A start in the past is "from now on"; the tier jobs end with the program.
        assert schedule["StartDate"] <= datetime.now(UTC) + timedelta(seconds=5)
        if job.startswith("tier-"):
            assert schedule["EndDate"] == datetime(2098, 12, 31, 23, tzinfo=UTC)
        else:
            assert schedule.get("EndDate") is None


# ---------------------------------------------------------------- firing on the virtual clock


def test_the_upgrade_fires_through_starter_queue_and_worker(
    stack: LocalStack, upgrade: tuple[datetime, list[Firing]], finished: list[Any]
) -> None:
    midnight, fired = upgrade
    [firing] = _mine(fired, "tier-upgrade")
    assert firing.ok and firing.target == TARGET.name
    assert firing.at == midnight
    assert firing.event["scheduled_at"] == midnight.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert firing.answer["state"] == "running"  # the shards were queued
    assert len(_mine(fired, "expire-points")) == 1
    # Run between 00:00 and 03:00 GMT+1, the clock passes today's 03:00 before the next midnight.
    todays_three = midnight - timedelta(hours=21)
    expected = [todays_three] if todays_three > _started else []
    assert [f.at for f in _mine(fired, "reconcile")] == expected, "03:00 GMT+1 fires only when passed"

    member = _call(stack, "GET", f"/v1/members/{CARD}", "shop")
    assert member["tier"]["name"] == "Silver"
    history = _call(stack, "GET", f"/v1/members/{CARD}/tier-history", "shop")
    [change] = history["changes"]
    assert change["cause"] == "upgrade_run"
    assert change["run"] == {"job": "tier-upgrade", "scheduled_at": firing.event["scheduled_at"]}

    from loyalty_engine.handlers.api_context import default_context

    request = JobRequest(group=GROUP, program_id=PROGRAM, job="tier-upgrade", scheduled_at=midnight)
    summary, shards = default_context().jobs.run_items(request)
    assert summary is not None and summary.state == "completed"
    assert (summary.members, summary.changed, summary.shards_done) == (1, 1, len(shards))
    runs = [s for s in finished if s.program_id == PROGRAM and s.job == "tier-upgrade"]
    assert [run.scheduled_at for run in runs] == [midnight], "the run completed once"


def test_nothing_fires_twice(
    stack: LocalStack, upgrade: tuple[datetime, list[Firing]], finished: list[Any]
) -> None:
    midnight, _ = upgrade
    assert stack.advance_clock(midnight + timedelta(minutes=1)) == []
    assert stack.advance_clock(midnight + timedelta(seconds=90)) == [], "the same minute, again"
    assert stack.schedules.advance_to(midnight) == [], "the clock does not go back"
    # Scheduler delivers at least once: the same firing again changes nothing.
    scheduler = stack.client("scheduler")
    schedule = scheduler.get_schedule(
        GroupName=stack.schedules.group_name, Name=schedule_name(GROUP, PROGRAM, "tier-upgrade")
    )
    again = stack.schedules.fire(schedule, midnight)
    stack.wait_for_queues(TIMEOUT)
    assert again.ok and again.answer["state"] == "completed"
    history = _call(stack, "GET", f"/v1/members/{CARD}/tier-history", "shop")
    assert len(history["changes"]) == 1
    runs = [s for s in finished if s.program_id == PROGRAM and s.job == "tier-upgrade"]
    assert len(runs) == 1


def test_a_fast_clock_fires_in_the_background(
    stack: LocalStack, upgrade: tuple[datetime, list[Firing]]
) -> None:
    midnight, _ = upgrade
    until = midnight + timedelta(hours=3, minutes=1)  # over the reconciliation, at 03:00 GMT+1
    fired = stack.schedules.run_until(until, speed=86_400 * 4, timeout=TIMEOUT)
    stack.wait_for_queues(TIMEOUT)
    [reconcile] = _mine(fired, "reconcile")
    assert reconcile.at == midnight + timedelta(hours=3) and reconcile.ok
    assert not stack.schedules.clock.running
    assert stack.schedules.clock.now() == until == stack.schedules.watermark


def test_a_tick_fires_the_latest_firings_and_dead_letters_an_unknown_target(stack: LocalStack) -> None:
    """A runner of another group: an every-minute schedule whose target is no wiring function."""
    scheduler = stack.client("scheduler")
    scheduler.create_schedule_group(Name="cap-test")
    start = datetime(2030, 6, 1, 12, 0, 30, tzinfo=UTC)
    scheduler.create_schedule(
        Name="every-minute",
        GroupName="cap-test",
        ScheduleExpression="cron(* * * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:nobody",
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": '{"at": "<aws.scheduler.scheduled-time>"}',
        },
    )
    assert stack.resources.schedules is not None
    dlq = stack.resources.schedules.dlq_url
    clock = VirtualClock(start, running=False)
    runner = ScheduleRunner(
        stack.aws_endpoint_url, "cap-test", {}, clock, dlq_url=dlq, max_firings_per_tick=3
    )
    try:
        clock.set(start + timedelta(minutes=10))
        fired = runner.tick()
        assert [f.at.minute for f in fired] == [8, 9, 10], "the latest ones"
        assert runner.skipped == 7 and runner.failed == 3
        assert all(f.error == "no function of the wiring has this ARN" for f in fired)
        assert runner.tick() == [], "the clock did not move"
        sqs = stack.client("sqs")
        messages = []
        while batch := sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            messages += batch
        assert sorted(json.loads(m["Body"])["at"] for m in messages) == [
            "2030-06-01T12:08:00Z",
            "2030-06-01T12:09:00Z",
            "2030-06-01T12:10:00Z",
        ]
        assert {m["MessageAttributes"]["ERROR_CODE"]["StringValue"] for m in messages} == {
            "ResourceNotFoundException"
        }
        with pytest.raises(ValueError, match="more than 5 firings"):
            runner.advance_to(start + timedelta(hours=1), limit=5)
        assert runner.watermark == clock.now() == start + timedelta(minutes=10), (
            "nothing fired, nothing moved"
        )
    finally:
        scheduler.delete_schedule_group(Name="cap-test")
