"""A deployed stage's outputs, read back as the functions' environment (infra/outputs.py,
scripts/stack_env.py): offline, with CloudFormation's answers stubbed (botocore Stubber)."""

from __future__ import annotations

import runpy
import shlex
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

from infra import outputs
from loyalty_engine import wiring

ROOT = Path(__file__).resolve().parents[2]
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/LoyaltyEngine-dev/1"
DEPLOYED = {
    "ApiUrl": "https://abc123.execute-api.eu-west-1.amazonaws.com/api/",
    "TableName": "LoyaltyEngine-dev-TableCD117FA1-1",
    "ImportsBucketName": "loyaltyengine-dev-importsbucket-1",
    "ExportsBucketName": "loyaltyengine-dev-exportsbucket-1",
    "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
    "ScheduleGroupName": "LoyaltyEngine-dev-Programs",
    "SchedulerRoleArn": "arn:aws:iam::123456789012:role/scheduler",
    "ScheduleTargetArn": "arn:aws:lambda:eu-west-1:123456789012:function:JobStarter",
    "ScheduleDeadLetterQueueArn": "arn:aws:sqs:eu-west-1:123456789012:schedules-dlq",
}


def cloudformation(answers: list[dict[str, Any] | str]) -> tuple[Any, Stubber]:
    """A CloudFormation client answering DescribeStacks of LoyaltyEngine-dev with `answers`
    (an outputs dict, or an error code) in turn."""
    client = botocore.session.get_session().create_client("cloudformation", region_name="eu-west-1")
    stubber = Stubber(client)
    for answer in answers:
        if isinstance(answer, str):
            stubber.add_client_error(
                "describe_stacks",
                service_error_code=answer,
                service_message="Stack with id LoyaltyEngine-dev does not exist",
                expected_params={"StackName": "LoyaltyEngine-dev"},
            )
            continue
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "LoyaltyEngine-dev",
                        "StackId": STACK_ID,
                        "CreationTime": "2027-01-01T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in answer.items()],
                    }
                ]
            },
            {"StackName": "LoyaltyEngine-dev"},
        )
    stubber.activate()
    return client, stubber


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
