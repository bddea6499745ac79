"""A program's IANA time zone, through the real handlers: validated on PUT, its schedules created
in EventBridge Scheduler (moto) in that zone, and a daily run fired across a daylight saving
change on the local stack's virtual clock (schedule -> JobStarter -> Jobs queue -> JobWorker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN
from tests.support.api import call
from tests.support.aws import fresh_caches
from tests.support.jobs import SAMPLE

REGION = "eu-west-1"
SCHEDULE_GROUP = "loyalty-programs"
PARIS = "Europe/Paris"


def paris(**overrides: Any) -> dict[str, Any]:
    """The sample program, in Paris time, upgrading daily at 02:30 (a time 28 March 2027 skips)."""
    settings = SAMPLE["tier_settings"] | {
        "upgrade": {"first_run_at": "2027-01-01T02:30:00+01:00", "periodicity": "daily"}
    }
    return SAMPLE | {"time_zone": PARIS, "tier_settings": settings} | overrides


@pytest.fixture
def scheduler(clock, monkeypatch):
    client = boto3.client("scheduler", region_name=REGION)
    client.create_schedule_group(Name=SCHEDULE_GROUP)
    monkeypatch.setenv("SCHEDULE_GROUP", SCHEDULE_GROUP)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/scheduler")
    monkeypatch.setenv("JOB_TARGET_ARN", "arn:aws:lambda:eu-west-1:123456789012:function:JobStarter")
    fresh_caches()
    clock.now = datetime.now(UTC).replace(microsecond=0)  # Scheduler refuses a start date in the past
    default_context().clock = clock
    return client


def schedules(client) -> dict[str, dict]:
    found = {}
    for entry in client.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]:
        schedule = client.get_schedule(GroupName=SCHEDULE_GROUP, Name=entry["Name"])
        found[json.loads(schedule["Target"]["Input"])["job"]] = schedule
    return found


def test_the_schedules_of_a_program_are_read_in_its_zone(scheduler):
    created = call("api_put_program", ADMIN, body=paris())
    assert created.status == 201, created.body
    assert created.body["time_zone"] == PARIS
    found = schedules(scheduler)
    assert {job: (s["ScheduleExpression"], s["ScheduleExpressionTimezone"]) for job, s in found.items()} == {
        "tier-upgrade": ("cron(30 2,3 * * ? *)", PARIS),  # 03:30 for the day 02:30 is skipped
        "tier-downgrade": ("cron(0 3 1 1 ? *)", PARIS),
        "expire-points": ("cron(0 0 * * ? *)", PARIS),
        "reconcile": ("cron(0 3 * * ? *)", PARIS),
    }
    assert found["tier-downgrade"]["StartDate"] == datetime(2027, 1, 1, 2, tzinfo=UTC)

    back = call("api_put_program", ADMIN, body={k: v for k, v in paris().items() if k != "time_zone"})
    assert (back.status, back.body["time_zone"]) == (200, "Etc/GMT-1")
    assert {s["ScheduleExpressionTimezone"] for s in schedules(scheduler).values()} == {"Etc/GMT-1"}
    assert schedules(scheduler)["tier-upgrade"]["ScheduleExpression"] == "cron(30 2 * * ? *)"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "CET+1", "posixrules", 42, None])
def test_an_unknown_time_zone_is_refused(scheduler, zone):
    reply = call("api_put_program", ADMIN, body=paris(time_zone=zone))
    assert (reply.status, reply.body["code"]) == (422, "validation_error"), reply.body
    assert [detail["field"] for detail in reply.body["details"]] == ["time_zone"]
    assert call("api_get_program", ADMIN).status == 404
    assert schedules(scheduler) == {}


def test_a_first_run_at_the_second_pass_of_a_repeated_time_is_refused(scheduler):
    settings = paris()["tier_settings"] | {
        "upgrade": {"first_run_at": "2027-10-31T02:30:00+01:00", "periodicity": "daily"}  # the second 02:30
    }
    reply = call("api_put_program", ADMIN, body=paris(tier_settings=settings))
    assert (reply.status, reply.body["code"]) == (422, "validation_error"), reply.body
    assert reply.body["details"] == [
        {"field": "tier_settings.upgrade.first_run_at", "reason": "repeated_wall_time"}
    ]
    assert schedules(scheduler) == {}
    settings["upgrade"]["first_run_at"] = "2027-10-31T02:30:00+02:00"  # its first pass
    assert call("api_put_program", ADMIN, body=paris(tier_settings=settings)).status == 201


# ---------------------------------------------------------------- the local stack, across a change

CARD = "TZ-0001"


def test_a_daily_run_fired_across_the_spring_forward_change_on_the_local_stack(tmp_path: Path) -> None:
    """The virtual clock over 27-29 March 2027 in Paris: midnight moves from 23:00 to 22:00 UTC,
    and the 02:30 upgrade that 28 March skips runs at 03:30 CEST, fired by the 03:30 hour."""
    from local_stack.stack import LocalStack

    start = datetime(2027, 3, 26, 21, tzinfo=UTC)
    with LocalStack.start(state_file=tmp_path / "stack.json", clock_start=start) as stack:
        headers = {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}
        program = paris(card_codes={"generation": "manual"})
        put = requests.put(f"{stack.api_url}/v1/programs/tz-club", json=program, headers=headers, timeout=30)
        assert put.status_code == 201, put.text
        enrol = requests.post(
            f"{stack.api_url}/v1/programs/tz-club/members",
            json={"card_code": CARD},
            headers=headers,
            timeout=30,
        )
        assert enrol.status_code == 201, enrol.text
        scheduler = stack.client("scheduler")
        group = stack.schedules.group_name
        zones = {
            s["Name"]: scheduler.get_schedule(GroupName=group, Name=s["Name"])["ScheduleExpressionTimezone"]
            for s in scheduler.list_schedules(GroupName=group)["Schedules"]
        }
        assert set(zones.values()) == {PARIS}

        fired = [
            f
            for f in stack.advance_clock(datetime(2027, 3, 29, 6, tzinfo=UTC))
            if f.event["program_id"] == "tz-club"
        ]
        by_job: dict[str, list[tuple[datetime, str | None]]] = {}
        for firing in fired:
            assert firing.ok, firing
            by_job.setdefault(firing.event["job"], []).append((firing.at, firing.answer.get("reason")))
        assert by_job["expire-points"] == [
            (datetime(2027, 3, 26, 23, tzinfo=UTC), None),  # 27 March 00:00 CET
            (datetime(2027, 3, 27, 23, tzinfo=UTC), None),  # 28 March 00:00 CET
            (datetime(2027, 3, 28, 22, tzinfo=UTC), None),  # 29 March 00:00 CEST
        ]
        assert by_job["tier-upgrade"] == [
            (datetime(2027, 3, 27, 1, 30, tzinfo=UTC), None),  # 02:30 CET
            (datetime(2027, 3, 27, 2, 30, tzinfo=UTC), "not_an_occurrence"),  # 03:30 CET
            (datetime(2027, 3, 28, 1, 30, tzinfo=UTC), None),  # 03:30 CEST: 02:30 did not happen
            (datetime(2027, 3, 29, 0, 30, tzinfo=UTC), None),  # 02:30 CEST
            (datetime(2027, 3, 29, 1, 30, tzinfo=UTC), "not_an_occurrence"),
        ]
        assert [at for at, _ in by_job["reconcile"]] == [
            datetime(2027, 3, 27, 2, tzinfo=UTC),  # 03:00 CET
            datetime(2027, 3, 28, 1, tzinfo=UTC),  # 03:00 CEST, just after the change
            datetime(2027, 3, 29, 1, tzinfo=UTC),
        ]
        from loyalty_engine.tiers.jobs import JobRequest

        for at, reason in by_job["tier-upgrade"]:
            if reason is None:
                request = JobRequest(group="demo", program_id="tz-club", job="tier-upgrade", scheduled_at=at)
                summary, _ = default_context().jobs.run_items(request)
                assert summary is not None and (summary.state, summary.members) == ("completed", 1), at
        state = json.loads((tmp_path / "stack.json").read_text())
        assert state["schedule_group"] == group
