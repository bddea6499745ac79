"""A deployed stage's outputs, read back as the functions' environment (infra/outputs.py,
scripts/stack_env.py): offline, with CloudFormation's answers stubbed (botocore Stubber)."""

from __future__ import annotations

import runpy
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import outputs
from loyalty_engine import wiring
from tests.support.cloudformation import DEPLOYED, cloudformation

ROOT = Path(__file__).resolve().parents[2]


def test_a_stages_outputs_become_the_functions_variables() -> None:
    client, stubber = cloudformation([DEPLOYED])
    environment = outputs.stage_environment(outputs.read_outputs(client, "dev"))
    stubber.assert_no_pending_responses()
    schedules = wiring.PROGRAM_SCHEDULES
    assert environment == {
        "TABLE_NAME": DEPLOYED["TableName"],
        "API_URL": DEPLOYED["ApiUrl"],
        wiring.IMPORT_BUCKET.env: DEPLOYED["ImportsBucketName"],
        wiring.EXPORT_BUCKET.env: DEPLOYED["ExportsBucketName"],
        schedules.group_env: DEPLOYED["ScheduleGroupName"],
        schedules.role_env: DEPLOYED["SchedulerRoleArn"],
        schedules.target_env: DEPLOYED["ScheduleTargetArn"],
        schedules.dead_letter_env: DEPLOYED["ScheduleDeadLetterQueueArn"],
        "REST_API_ID": "abc123",
        "DEFAULT_USAGE_PLAN_ID": "plan01",
        "STAGE_NAME": "dev",
    }


def test_a_missing_stage_or_an_older_stack_is_named() -> None:
    client, _ = cloudformation(["ValidationError"])
    with pytest.raises(outputs.StageNotFound, match=r"no stack LoyaltyEngine-dev .*make deploy STAGE=dev"):
        outputs.read_outputs(client, "dev")
    older = {k: v for k, v in DEPLOYED.items() if not k.startswith("Schedule")}
    with pytest.raises(outputs.StageNotFound, match=r"lack .*ScheduleGroupName"):
        outputs.stage_environment(older)


def test_other_errors_are_not_taken_for_a_missing_stage() -> None:
    client, _ = cloudformation(["AccessDenied"])
    with pytest.raises(Exception, match="AccessDenied"):
        outputs.read_outputs(client, "dev")


def stack_env() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return runpy.run_path(str(ROOT / "scripts" / "stack_env.py"), run_name="stack_env")
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_stack_env_prints_export_lines_a_shell_can_eval(capsys: pytest.CaptureFixture[str]) -> None:
    client, _ = cloudformation([DEPLOYED | {"ApiUrl": "https://x.example/api/?a=1&b='2'"}])
    assert stack_env()["main"](["dev"], cloudformation=client) == 0
    lines = capsys.readouterr().out.splitlines()
    parsed = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
    assert parsed["API_URL"] == "https://x.example/api/?a=1&b='2'"
    assert parsed["TABLE_NAME"] == DEPLOYED["TableName"]
    assert all(line.startswith("export ") for line in lines)


def test_stack_env_exits_3_without_a_stage(capsys: pytest.CaptureFixture[str]) -> None:
    client, _ = cloudformation(["ValidationError"])
    assert stack_env()["main"](["dev"], cloudformation=client) == 3
    assert "no stack LoyaltyEngine-dev" in capsys.readouterr().err


def test_the_deploy_guide_names_every_output_of_the_stack() -> None:
    """docs/deploying.md's first deploy lists the outputs an operator reads: all of them."""
    names = [value for name, value in vars(outputs).items() if name.isupper() and name != "STACK_NAME_PREFIX"]
    names = [n for n in names if n != outputs.API_URL_ENV] + [
        outputs.bucket_output(b.name) for b in wiring.BUCKETS
    ]
    guide = (ROOT / "docs" / "deploying.md").read_text().split("## First deploy", 1)[1].split("\n## ", 1)[0]
    assert not [name for name in names if f"`{name}`" not in guide]
