"""The smoke suite's deployed target (tests/e2e/target.py), offline: a stage's outputs and an
API key become the endpoints and credentials the scenarios use; CloudFormation's and Lambda's
answers are stubbed (botocore Stubber)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.e2e.target import TargetError, invoke_lambda, stage_target
from tests.support.cloudformation import DEPLOYED, cloudformation

KEY = "lk.e2e.01JD0000000000000000000E2E.secret"
SYNC = "LoyaltyEngine-dev-FunctionsScheduleSync-1"


def lambda_client(*answers: tuple[dict[str, Any], bool]) -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client("lambda", region_name="eu-west-1")
    stubber = Stubber(client)
    for payload, failed in answers:
        body = json.dumps(payload).encode()
        response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
        if failed:
            response["FunctionError"] = "Unhandled"
        stubber.add_response("invoke", response)
    stubber.activate()
    return client, stubber


class Session:
    """What stage_target asks of a boto3 session: clients, here stubbed ones."""

    def __init__(self, clients: dict[str, Any]):
        self.clients = clients

    def client(self, service: str) -> Any:
        return self.clients[service]


def test_a_stage_becomes_the_targets_endpoints_and_credentials() -> None:
    formation, stubber = cloudformation([DEPLOYED | {"ScheduleSyncFunctionName": SYNC}])
    functions, _ = lambda_client(({"state": "running"}, False))
    target = stage_target(
        "dev", {"E2E_API_KEY": KEY}, Session({"cloudformation": formation, "lambda": functions})
    )
    stubber.assert_no_pending_responses()
    assert target.name == "stage dev"
    assert target.api_url == DEPLOYED["ApiUrl"]  # ends with a slash
    assert (target.admin_key, target.group) == (KEY, "e2e")
    assert target.imports_bucket == DEPLOYED["ImportsBucketName"]
    assert target.schedule_group == DEPLOYED["ScheduleGroupName"]
    assert target.job_starter == DEPLOYED["ScheduleTargetArn"]
    assert target.schedule_sync == SYNC
    assert target.patience_s == 300  # the queue delay and the group quiet period (120 s), with room
    assert target.invoke(target.job_starter, {"job": "tier-upgrade"}) == {"state": "running"}
    assert target.aws("lambda") is functions


def test_patience_can_be_raised_for_a_slow_stage() -> None:
    formation, _ = cloudformation([DEPLOYED | {"ScheduleSyncFunctionName": SYNC}])
    environ = {"E2E_API_KEY": KEY, "E2E_PATIENCE_S": "600"}
    assert (
        stage_target("dev", environ, Session({"cloudformation": formation, "lambda": None})).patience_s == 600
    )


@pytest.mark.parametrize(
    ("environ", "outputs", "message"),
    [
        ({}, DEPLOYED, "E2E_API_KEY must hold an admin key of stage dev"),
        ({"E2E_API_KEY": KEY}, "ValidationError", "no stack LoyaltyEngine-dev"),
        ({"E2E_API_KEY": KEY}, DEPLOYED, "lack ScheduleSyncFunctionName"),
    ],
    ids=["no key", "no stack", "an older stack"],
)
def test_what_is_missing_is_named(environ: dict[str, str], outputs: Any, message: str) -> None:
    formation, _ = cloudformation([outputs])
    with pytest.raises(TargetError, match=message):
        stage_target("dev", environ, Session({"cloudformation": formation, "lambda": None}))


def test_the_group_comes_from_the_key() -> None:
    formation, _ = cloudformation([DEPLOYED | {"ScheduleSyncFunctionName": SYNC}])
    target = stage_target(
        "dev", {"E2E_API_KEY": "not-a-key"}, Session({"cloudformation": formation, "lambda": None})
    )
    with pytest.raises(TargetError, match="not an engine key"):
        _ = target.group


def test_a_failed_invocation_is_raised_with_the_functions_error() -> None:
    client, _ = lambda_client(({"errorMessage": "boom", "errorType": "SyncIncomplete"}, True))
    with pytest.raises(TargetError, match="SyncIncomplete"):
        invoke_lambda(client, SYNC, {})


def test_against_a_stage_only_the_smoke_suite_runs_and_it_names_a_missing_key() -> None:
    """`make e2e STAGE=dev` without E2E_API_KEY: the other tests are deselected (they expect
    fakes), and the suite stops at once, exit code 2, naming what is missing."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("E2E_API_KEY", "TABLE_NAME")}
    env |= {"E2E_STAGE": "dev", "AWS_PROFILE": "someone"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/e2e",
            "tests/unit/test_retry.py",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "make e2e STAGE=dev: E2E_API_KEY must hold an admin key of stage dev" in done.stdout + done.stderr
    assert "deselected" in done.stdout
