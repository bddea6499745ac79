"""The program schedules on the local stack: created by the API in moto's EventBridge
Scheduler, fired on the stack's virtual clock (schedule -> JobStarter -> Jobs queue ->
JobWorker), and the operators' `run-job` (and `make run-job`) against the stack. Real
handlers throughout; the wiring names the functions, queues and schedule settings.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack import aws
from local_stack.schedules import Firing, ScheduleRunner
from local_stack.stack import LocalStack
from local_stack.virtual_clock import VirtualClock
from loyalty_engine.tiers.jobs import JOB_NAMES, JobRequest, schedule_name
from loyalty_engine.wiring import FUNCTIONS, JOB_QUEUE, PROGRAM_SCHEDULES

TIMEOUT = 30
GROUP = "demo"
PROGRAM = "sched-club"
CARD = "SCHED-0001"
GMT1 = timezone(timedelta(hours=1))
REPO = Path(__file__).resolve().parents[2]
TARGET = next(function for function in FUNCTIONS if function.schedule_target)
WORKER = next(f for f in FUNCTIONS if f.queue_trigger is not None and f.queue_trigger.queue == JOB_QUEUE.name)
TIERED = {
    "name": "Scheduled club",
    "kind": "tiered",
    "currency": "EUR",
    "starts_at": "2025-01-01T00:00:00+01:00",
    "ends_at": "2099-01-01T00:00:00+01:00",
    "card_codes": {"generation": "manual"},
    "nq_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
    "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
    "tier_settings": {
        "max_tier_downgrade": 1,
        "upgrade": {"first_run_at": "2025-01-01T00:00:00+01:00", "periodicity": "daily"},
        "downgrade": {
            "mode": "calendar",
            "first_run_at": "2026-01-01T00:00:00+01:00",
            "periodicity": "yearly",
        },
        "tiers": [
            {"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0},
            {"rank": 2, "name": "Silver", "entry_threshold": 500, "downgrade_threshold": 400},
            {"rank": 3, "name": "Gold", "entry_threshold": 2000, "downgrade_threshold": 1500},
        ],
    },
}
EXPRESSIONS = {
    "tier-upgrade": "cron(0 0 * * ? *)",
    "tier-downgrade": "cron(0 0 1 1 ? *)",
    "expire-points": "cron(0 0 * * ? *)",
    "reconcile": "cron(0 3 * * ? *)",
}


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local") / "stack.json"


@pytest.fixture(scope="module")
def stack(state_file: Path) -> Iterator[LocalStack]:
    with LocalStack.start(state_file=state_file) as running:  # the clock stands still
        yield running


def _call(stack: LocalStack, method: str, path: str, role: str = "admin", **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {stack.keys[GROUP][role]}"}
    response = requests.request(method, stack.api_url + path, headers=headers, timeout=TIMEOUT, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture(scope="module")
def program(stack: LocalStack) -> dict[str, Any]:
    """The tiered program, and one member with 650 Q points (Silver's threshold is 500)."""
    created = _call(stack, "PUT", f"/v1/programs/{PROGRAM}", json=TIERED)
    _call(stack, "POST", f"/v1/programs/{PROGRAM}/members", "shop", json={"card_code": CARD})
    ordered_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    order = {"order_id": "S-1", "amount": "650.00", "currency": "EUR", "ordered_at": ordered_at}
    earned = _call(stack, "POST", f"/v1/members/{CARD}/orders", "shop", json=order)
    assert earned["earned"]["q"] == 650
    return dict(created)


_started = datetime.now(UTC)  # before the schedules exist: no firing is earlier


def _next_midnight() -> datetime:
    """The first 00:00 GMT+1 after now (after the schedules' StartDate, the time of the PUT)."""
    local = datetime.now(GMT1)
    return (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(UTC)


@pytest.fixture(scope="module")
def finished() -> Iterator[list[Any]]:
    """The runs closed (the job handlers' `_finished`, called once per completed run)."""
    from loyalty_engine.handlers import jobs

    closed: list[Any] = []
    original = jobs._finished

    def record(summary: Any) -> None:
        closed.append(summary)
        original(summary)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "_finished", record)
        yield closed


@pytest.fixture(scope="module")
def upgrade(stack: LocalStack, program: dict[str, Any], finished: list[Any]) -> tuple[datetime, list[Firing]]:
    """The clock moved over the next upgrade occurrence (00:00 GMT+1), the runs done."""
    midnight = _next_midnight()
    worker = stack.delivery(WORKER.name)
    before = worker.invocations
    fired = stack.advance_clock(midnight + timedelta(minutes=1))
    assert worker.invocations - before >= 16, "the JobWorker got the shards through its delivery loop"
    return midnight, fired


def _mine(fired: list[Firing], job: str) -> list[Firing]:
    return [f for f in fired if f.event.get("program_id") == PROGRAM and f.event.get("job") == job]


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


# ---------------------------------------------------------------- run-job against the stack


def _admin(*argv: str) -> tuple[int, str, str]:
    from loyalty_engine.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_run_job_refuses_a_year_later_and_dry_runs_it(
    stack: LocalStack, upgrade: tuple[datetime, list[Firing]]
) -> None:
    at = f"{datetime.now(GMT1).year + 2}-01-01T00:00:00+01:00"  # the Q points have expired by then
    argv = ("run-job", "--group", GROUP, "--program", PROGRAM, "--job", "tier-downgrade", "--at", at)
    code, out, err = _admin(*argv)
    assert (code, out) == (2, ""), err
    assert "in the future" in err and "--dry-run" in err
    code, out, err = _admin(*argv, "--dry-run")
    assert code == 0, err
    preview = json.loads(out)
    assert (preview["state"], preview["members"], preview["changed"]) == ("dry_run", 1, 1)
    assert preview["moves"] == {"Silver -> Blue": 1}
    assert _call(stack, "GET", f"/v1/members/{CARD}", "shop")["tier"]["name"] == "Silver", "nothing written"
    assert _admin(*argv, "--dry-run")[1] == out
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    argv = ("run-job", "--group", GROUP, "--program", PROGRAM, "--job", "reconcile", "--at", past)
    code, out, err = _admin(*argv)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["state"], summary["members"], summary["drift"]) == ("completed", 1, 0)
    assert _admin(*argv)[1] == out, "once per (program, job, instant): the same run again"
    code, _, err = _admin(
        "run-job", "--group", GROUP, "--program", PROGRAM, "--job", "reconcile", "--at", "soon"
    )
    assert code == 2 and "scheduled_at" in err
    code, out, _ = _admin(
        "run-job", "--group", GROUP, "--program", "nope", "--job", "reconcile", "--at", past
    )
    assert code == 1 and json.loads(out)["reason"] == "program_not_found"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_job_uses_the_state_file(
    stack: LocalStack, state_file: Path, program: dict[str, Any]
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.pop("TABLE_NAME", None)
    env["LOCAL_STATE_FILE"] = str(state_file)
    at = "2026-06-01T03:00:00+01:00"
    command = [
        "make",
        "-s",
        "-o",
        ".venv/.installed",
        "run-job",
        "JOB=reconcile",
        f"PROGRAM={PROGRAM}",
        f"AT={at}",
    ]
    done = subprocess.run(  # noqa: S603
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["group"], summary["job"], summary["state"]) == (GROUP, "reconcile", "completed")
    assert summary["scheduled_at"] == "2026-06-01T02:00:00Z"
    assert f"the local stack at {stack.aws_endpoint_url}" in done.stderr

    ahead = [*command[:-1], "AT=2031-06-01T03:00:00+01:00"]
    refused = subprocess.run(  # noqa: S603
        ahead, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode != 0 and "run_in_future" in refused.stderr
    dry = subprocess.run(  # noqa: S603
        [*ahead, "DRY_RUN=1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert dry.returncode == 0, dry.stderr
    assert (json.loads(dry.stdout)["state"], json.loads(dry.stdout)["scheduled_at"]) == (
        "dry_run",
        "2031-06-01T02:00:00Z",
    )

    incomplete = [*command[:5], "JOB=reconcile"]
    usage = subprocess.run(  # noqa: S603
        incomplete, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert usage.returncode != 0 and "usage: make run-job" in usage.stderr

    env["LOCAL_STATE_FILE"] = str(state_file.with_name("none.json"))
    missing = subprocess.run(  # noqa: S603
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert missing.returncode != 0 and "TABLE_NAME is not set" in missing.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_sync_schedules_brings_the_local_stacks_schedules_back(
    stack: LocalStack, state_file: Path, program: dict[str, Any]
) -> None:
    scheduler = stack.client("scheduler")
    group = stack.schedules.group_name
    name = schedule_name(GROUP, PROGRAM, "reconcile")
    before = scheduler.get_schedule(GroupName=group, Name=name)["ScheduleExpression"]
    scheduler.delete_schedule(GroupName=group, Name=name)
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.pop("TABLE_NAME", None)
    env["LOCAL_STATE_FILE"] = str(state_file)
    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "sync-schedules"],  # noqa: S607
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["schedule_group"] == group and report["failed"] == []
    assert f"sync-schedules: the local stack at {stack.aws_endpoint_url}" in done.stderr
    assert scheduler.get_schedule(GroupName=group, Name=name)["ScheduleExpression"] == before


# ---------------------------------------------------------------- the demo


def test_the_tiers_demo_scenario_runs_green(
    stack: LocalStack, upgrade: tuple[datetime, list[Firing]]
) -> None:
    from local_stack.demo_tiers import run_tiers_scenario

    out = io.StringIO()
    result = run_tiers_scenario(stack, out=out, suffix="-t")
    assert result.ok, out.getvalue()
    assert "all" in out.getvalue().splitlines()[-1]
