"""Where the smoke suite runs: its endpoints and credentials, and nothing else.

The scenarios (test_smoke.py) are written once against a `Target`: the API's URL and an admin
key, an AWS client factory, the imports bucket, the schedule group, the functions it invokes
as the platform would (the schedules' target, the schedule sync), and how long an asynchronous
outcome may take. Two targets:

- `local_target`: a fresh local stack (moto and the in-process gateway), started by the suite;
  its keys, clients and functions; `settle` drains the queues, so outcomes are there at once.
- `stage_target`: a deployed stage (`make e2e STAGE=dev`): the stack's outputs (CloudFormation
  DescribeStacks, `infra.outputs`), an admin key of the stage from E2E_API_KEY, and the caller's
  AWS credentials and region; outcomes are polled for up to E2E_PATIENCE_S seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra import outputs

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

API_KEY_VARIABLE = "E2E_API_KEY"
PATIENCE_VARIABLE = "E2E_PATIENCE_S"
# On AWS the imports queue delays a file 30 s, then the group's quiet period (120 s by
# default) holds its drain until the file is that old.
STAGE_PATIENCE_S = 300.0
LOCAL_PATIENCE_S = 30.0


class TargetError(RuntimeError):
    """The target cannot be reached as configured (no stack, no key)."""


@dataclass(frozen=True)
class Target:
    name: str
    api_url: str  # the API's base URL, ending in /
    admin_key: str  # `lk.<group>.<key id>.<secret>`, an admin key of the group the suite works in
    aws: Callable[[str], Any]  # a client of the target's AWS, by service name
    imports_bucket: str
    schedule_group: str
    job_starter: str  # the schedules' target (JobStarter): its ARN
    schedule_sync: str  # the function syncing the program schedules: its name or ARN
    invoke: Callable[[str, dict[str, Any]], Any]  # a function's answer to an event (synchronous)
    settle: Callable[[], None]  # background work done, where the target can tell
    patience_s: float
    checks_signatures: bool = True  # S3 verifies presigned URLs; moto (the local stack) does not

    @property
    def group(self) -> str:
        parts = self.admin_key.split(".")
        if len(parts) != 4 or parts[0] != "lk":
            raise TargetError("the API key is not an engine key (lk.<group>.<key id>.<secret>)")
        return parts[1]


def local_target(stack: LocalStack) -> Target:
    from local_stack.aws import function_arn
    from loyalty_engine import wiring

    schedules = stack.resources.schedules
    if schedules is None:
        raise TargetError("the local stack has no program schedules")
    (sync,) = [spec for spec in wiring.FUNCTIONS if spec.syncs_schedules]
    return Target(
        name="the local stack",
        api_url=stack.api_url.rstrip("/") + "/",
        admin_key=stack.keys["demo"]["admin"],
        aws=stack.client,
        imports_bucket=stack.bucket_name(wiring.IMPORT_BUCKET.name),
        schedule_group=schedules.group_name,
        job_starter=function_arn(schedules.target),
        schedule_sync=sync.name,
        invoke=stack.invoke,
        settle=lambda: stack.wait_for_queues(timeout=LOCAL_PATIENCE_S),
        patience_s=LOCAL_PATIENCE_S,
        checks_signatures=False,
    )


def stage_target(stage: str, environ: dict[str, str] | None = None, session: Any = None) -> Target:
    """The deployed `stage`, read with `session` (default: a boto3 session of the caller's
    credentials and region)."""
    environ = dict(os.environ if environ is None else environ)
    key = environ.get(API_KEY_VARIABLE, "").strip()
    if not key:
        raise TargetError(
            f"{API_KEY_VARIABLE} must hold an admin key of stage {stage} "
            "(loyalty-admin create-key --group e2e --scope admin, see docs/deploying.md#smoke-tests)"
        )
    if session is None:
        import boto3

        session = boto3.session.Session()
    try:
        stack = outputs.read_outputs(session.client("cloudformation"), stage)
    except outputs.StageNotFound as error:
        raise TargetError(str(error)) from error
    environment = outputs.stage_environment(stack)
    sync_function = stack.get(outputs.SCHEDULE_SYNC_FUNCTION)
    if not sync_function:
        raise TargetError(
            f"the stack's outputs lack {outputs.SCHEDULE_SYNC_FUNCTION}: deploy the current version"
        )
    from loyalty_engine import wiring

    lambda_client = session.client("lambda")
    return Target(
        name=f"stage {stage}",
        api_url=environment[outputs.API_URL_ENV].rstrip("/") + "/",
        admin_key=key,
        aws=session.client,
        imports_bucket=environment[wiring.IMPORT_BUCKET.env],
        schedule_group=environment[wiring.PROGRAM_SCHEDULES.group_env],
        job_starter=environment[wiring.PROGRAM_SCHEDULES.target_env],
        schedule_sync=sync_function,
        invoke=lambda function, event: invoke_lambda(lambda_client, function, event),
        settle=lambda: None,
        patience_s=float(environ.get(PATIENCE_VARIABLE) or STAGE_PATIENCE_S),
    )


def invoke_lambda(client: Any, function: str, event: dict[str, Any]) -> Any:
    """`lambda:Invoke` (RequestResponse): the function's answer; its error is raised."""
    answer = client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event))
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        raise TargetError(f"{function} failed: {payload}")
    return payload
