"""The smoke suite: what must work on any stack the engine runs on, through its public doors.

HTTP through the API with a key; a partner file uploaded to S3 and its report; a scheduled
run started as Scheduler starts it (the JobStarter invoked with a schedule's input), worked by
the JobWorkers and seen through the API; the program's schedules, and the schedule sync
bringing back one that was deleted. Written once against a `Target` (target.py): a fresh local
stack inside `make test`, a deployed stage with `make e2e STAGE=dev`. Everything it creates is
named after the run (`run_id`), so runs against one stage never collide.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
import requests

from loyalty_engine.tiers.jobs import JOB_NAMES, schedule_name
from tests.e2e.target import Target

GMT1 = timezone(timedelta(hours=1))  # partner files and calendars are in fixed GMT+1
TIMEOUT_S = 30
T = TypeVar("T")


def eventually(target: Target, probe: Callable[[], T | None], what: str) -> T:
    """`probe()`'s first answer that is not None, within the target's patience."""
    target.settle()
    deadline = time.monotonic() + target.patience_s
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {target.patience_s:.0f} s on {target.name}")
        time.sleep(1.0)


class Api:
    def __init__(self, target: Target):
        self.base = target.api_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {target.admin_key}"

    def __call__(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base + path.lstrip("/"), timeout=TIMEOUT_S, **kwargs)
        assert response.status_code == expect, (
            f"{method} {path}: {response.status_code} {response.text[:300]}"
        )
        return response.json()


@pytest.fixture(scope="package")
def api(target: Target) -> Api:
    return Api(target)


@pytest.fixture(scope="package")
def moments() -> dict[str, datetime]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return {
        "starts": now - timedelta(days=2),
        "ordered": now - timedelta(hours=1),
        "upgrade": now,  # the first tier upgrade: a whole minute, after the order
        "ends": now + timedelta(days=1),  # the tier schedules end with the program
    }


@pytest.fixture(scope="package")
def program(api: Api, run_id: str, moments: dict[str, datetime]) -> dict[str, Any]:
    """A tiered program of this run: Blue (0), Silver (500), Gold (2000) Q points."""
    program_id = f"e2e-{run_id}"
    body = {
        "name": f"Smoke test {run_id}",
        "kind": "tiered",
        "currency": "EUR",
        "starts_at": moments["starts"].isoformat(),
        "ends_at": moments["ends"].isoformat(),
        "card_codes": {"generation": "manual"},
        "nq_points": {"conversion_rate": "1", "rounding": "down", "validity": {"value": 1, "unit": "year"}},
        "q_points": {"conversion_rate": "1", "validity": {"value": 1, "unit": "year"}},
        "tier_settings": {
            "max_tier_downgrade": 1,
            "upgrade": {"first_run_at": moments["upgrade"].isoformat(), "periodicity": "daily"},
            "downgrade": {"mode": "relative", "every": {"value": 1, "unit": "year"}},
            "tiers": [
                {"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0},
                {"rank": 2, "name": "Silver", "entry_threshold": 500, "downgrade_threshold": 400},
                {"rank": 3, "name": "Gold", "entry_threshold": 2000, "downgrade_threshold": 1500},
            ],
        },
    }
    created = api("PUT", f"/v1/programs/{program_id}", 201, json=body)
    assert created["program_id"] == program_id and created["version"] == 1
    return created


@pytest.fixture(scope="package")
def card(api: Api, program: dict[str, Any], run_id: str) -> str:
    card_code = f"E2E-{run_id}".upper()
    enrolled = api(
        "POST", f"/v1/programs/{program['program_id']}/members", 201, json={"card_code": card_code}
    )
    assert enrolled["card_code"] == card_code
    return card_code


@pytest.fixture(scope="package")
def earned(api: Api, card: str, run_id: str, moments: dict[str, datetime]) -> dict[str, Any]:
    order = {"order_id": f"order-{run_id}", "amount": "600.00", "currency": "EUR"}
    order["ordered_at"] = moments["ordered"].isoformat()
    first = api("POST", f"/v1/members/{card}/orders", 201, json=order)
    again = api("POST", f"/v1/members/{card}/orders", 201, json=order)  # a till's retry
    assert again == first, "the same order twice earns once, and answers the same"
    return first


# ---------------------------------------------------------------- HTTP


def test_the_api_refuses_a_request_without_a_valid_key(target: Target) -> None:
    for headers in ({}, {"Authorization": f"Bearer {target.admin_key}x"}):
        response = requests.get(target.api_url + "v1/programs/anything", headers=headers, timeout=TIMEOUT_S)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


def test_an_unknown_route_is_a_json_404(api: Api) -> None:
    assert api("GET", "/v1/nothing-here", 404)["code"] == "route_not_found"


def test_a_member_earns_once_per_order_and_reads_the_balance_back(
    api: Api, card: str, earned: dict[str, Any]
) -> None:
    assert (earned["earned"]["nq"], earned["earned"]["q"]) == (600, 600)
    member = api("GET", f"/v1/members/{card}", 200)
    assert member["balances"]["nq"]["available"] == 600
    assert member["balances"]["q"]["valid"] == 600
    assert member["tier"]["name"] == "Blue"
    (entry,) = api("GET", f"/v1/members/{card}/ledger", 200)["entries"]
    assert (entry["kind"], entry["nq"]) == ("earn", 600)
    assert api("GET", "/v1/members/NO-SUCH-CARD-0000", 404)["code"] == "member_not_found"


def test_a_burn_beyond_the_balance_is_refused_and_one_within_it_is_not(
    api: Api, card: str, run_id: str
) -> None:
    too_much = {"burn_id": f"burn-big-{run_id}", "points": 100_000}
    assert api("POST", f"/v1/members/{card}/burns", 409, json=too_much)["code"] == "insufficient_points"
    burned = api("POST", f"/v1/members/{card}/burns", 201, json={"burn_id": f"burn-{run_id}", "points": 100})
    assert burned["balances"]["nq"]["available"] == 500


# ---------------------------------------------------------------- S3: a partner file and its report


def test_a_partner_file_is_applied_and_reported(
    target: Target, api: Api, program: dict[str, Any], run_id: str
) -> None:
    s3 = target.aws("s3")
    day = datetime.now(GMT1).strftime("%Y%m%d")
    name = f"{target.group}_masterreward_{program['program_id']}_{day}.csv"
    reward = f"e2e-{run_id}"
    s3.put_object(
        Bucket=target.imports_bucket,
        Key=f"incoming/{target.group}/{name}",
        Body=(
            "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;"
            "validity_interval_type;forced_validity;is_limited;max_attribution_count\n"
            f"{reward};Smoke test gift;0;10;0;1;month;0;1;100\n"
            f"{reward}-broken;No stock;0;10;0;1;day;0;0;0\n"
        ).encode(),
    )

    def report() -> dict[str, Any] | None:
        listed = s3.list_objects_v2(
            Bucket=target.imports_bucket, Prefix=f"reports/{target.group}/{name}/"
        ).get("Contents", [])
        keys = [k["Key"] for k in listed if k["Key"].endswith(".report.json")]
        if not keys:
            return None
        answer = s3.get_object(Bucket=target.imports_bucket, Key=max(keys))
        return dict(json.loads(answer["Body"].read()))

    summary = eventually(target, report, f"the report of {name}")
    assert (summary["applied"], summary["skipped"]) == (1, 1), summary
    assert api("GET", f"/v1/rewards/{reward}", 200)["remaining"] == 100
    assert api("GET", f"/v1/rewards/{reward}-broken", 404)["code"] == "reward_not_found"
    (job,) = api("GET", "/v1/imports", 200, params={"file": name})["imports"]
    assert job["state"] == "completed" and job["progress"]["applied"] == 1


# ---------------------------------------------------------------- a scheduled run, as Scheduler starts it


def test_a_presigned_upload_of_another_length_than_signed_is_refused(
    target: Target, api: Api, program: dict[str, Any]
) -> None:
    """The upload route signs Content-Length: S3 refuses another length. moto does not check
    presigned signatures, so on the local stack the body is stored (and its file rejected)."""
    day = (datetime.now(GMT1) + timedelta(days=1)).strftime("%Y%m%d")
    name = f"{target.group}_burnreward_{program['program_id']}_{day}.csv"
    ticket = api("POST", "/v1/imports/uploads", 200, json={"file_name": name, "size": 5})
    assert ticket["headers"] == {"Content-Length": "5"}
    answer = requests.put(ticket["url"], data=b"too long for the ticket", timeout=TIMEOUT_S)
    if target.checks_signatures:
        assert answer.status_code == 403, answer.text[:300]
        assert "SignatureDoesNotMatch" in answer.text
    else:
        assert answer.status_code == 200, answer.text[:300]


def test_a_scheduled_upgrade_run_moves_the_member_up(
    target: Target,
    api: Api,
    program: dict[str, Any],
    card: str,
    earned: dict[str, Any],
    moments: dict[str, datetime],
) -> None:
    scheduled_at = moments["upgrade"].strftime("%Y-%m-%dT%H:%M:%SZ")
    schedule_input = {
        "group": target.group,
        "program_id": program["program_id"],
        "job": "tier-upgrade",
        "scheduled_at": scheduled_at,
    }
    started = target.invoke(target.job_starter, schedule_input)
    assert started["state"] in ("running", "completed"), started

    def upgraded() -> dict[str, Any] | None:
        member = api("GET", f"/v1/members/{card}", 200)
        return member if member["tier"] and member["tier"]["name"] == "Silver" else None

    eventually(target, upgraded, f"{card} in Silver after the tier-upgrade run")
    (change, *_) = api("GET", f"/v1/members/{card}/tier-history", 200)["changes"]
    assert (change["cause"], change["new_tier"]["name"]) == ("upgrade_run", "Silver")
    assert change["run"] == {"job": "tier-upgrade", "scheduled_at": scheduled_at}

    runs_path, run_id = f"/v1/programs/{program['program_id']}/jobs", f"tier-upgrade@{scheduled_at}"

    def closed() -> dict[str, Any] | None:
        runs = api("GET", runs_path, 200, params={"job": "tier-upgrade"})["runs"]
        run = next((r for r in runs if r["run_id"] == run_id), None)
        return run if run is not None and run["state"] == "completed" else None

    run = eventually(target, closed, f"{run_id} listed as completed")
    assert run["changed"] >= 1 and run["shards_done"] == run["shards"], run
    assert (run["stalled"], run["progress_at"]) == (False, None), run
    detail = api("GET", f"{runs_path}/{run_id}", 200)
    assert [shard["state"] for shard in detail["shard_progress"]] == ["done"] * detail["shards"]

    again = target.invoke(target.job_starter, schedule_input)  # Scheduler's retry: the same run
    assert again["scheduled_at"] == started["scheduled_at"]
    target.settle()
    assert len(api("GET", f"/v1/members/{card}/tier-history", 200)["changes"]) == 1


# ---------------------------------------------------------------- the program's schedules survive


def test_the_programs_schedules_exist_and_the_sync_brings_a_lost_one_back(
    target: Target, program: dict[str, Any]
) -> None:
    scheduler = target.aws("scheduler")
    names = {job: schedule_name(target.group, program["program_id"], job) for job in JOB_NAMES}
    for job, name in names.items():
        schedule = scheduler.get_schedule(GroupName=target.schedule_group, Name=name)
        assert json.loads(schedule["Target"]["Input"])["job"] == job
        assert schedule["Target"]["Arn"] == target.job_starter

    scheduler.delete_schedule(GroupName=target.schedule_group, Name=names["reconcile"])
    report = target.invoke(target.schedule_sync, {})  # what runs after every deploy
    assert report["failed"] == [], report
    assert report["programs"] >= 1
    restored = scheduler.get_schedule(GroupName=target.schedule_group, Name=names["reconcile"])
    assert restored["ScheduleExpression"] == "cron(0 3 * * ? *)"
