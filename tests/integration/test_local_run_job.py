"""The operators' `run-job` (and `make run-job`, `make sync-schedules`) against the local stack,
after the upgrade occurrence fired, and the tiers demo scenario. Real handlers throughout."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local_stack.schedules import Firing
from local_stack.stack import LocalStack
from loyalty_engine.tiers.jobs import schedule_name
from tests.support import local_schedules as fixtures
from tests.support.local_schedules import CARD, GMT1, GROUP, PROGRAM, REPO, _call

# The stack's module-scoped fixtures (tests/support/local_schedules.py), one stack per module.
finished = fixtures.finished
program = fixtures.program
stack = fixtures.stack
state_file = fixtures.state_file
upgrade = fixtures.upgrade


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
