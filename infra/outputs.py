"""The stack's outputs, and what an operator's process reads from a deployed stage.

The stack makes its outputs under these names (`infra.stack`); `make sync-schedules STAGE=...`,
`make run-job STAGE=...` (through scripts/stack_env.py) and `make e2e STAGE=...` (tests/e2e)
read them back with CloudFormation's DescribeStacks and turn them into the environment the
functions get: the same variable names, from the same wiring. No CDK here: reading a stage's
outputs must not load the CDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loyalty_engine import wiring

STACK_NAME_PREFIX = "LoyaltyEngine-"

API_URL = "ApiUrl"
TABLE_NAME = "TableName"
ALARM_TOPIC_ARN = "AlarmTopicArn"
SCHEDULE_GROUP = "ScheduleGroupName"
SCHEDULER_ROLE_ARN = "SchedulerRoleArn"
SCHEDULE_TARGET_ARN = "ScheduleTargetArn"
SCHEDULE_DEAD_LETTER_QUEUE_ARN = "ScheduleDeadLetterQueueArn"
# The function that syncs the program schedules (invoke it to sync on AWS; the smoke tests do).
SCHEDULE_SYNC_FUNCTION = "ScheduleSyncFunctionName"

# The usage plans (`loyalty-admin quotas set`, kernel.settings.UsagePlanSettings).
REST_API_ID = "RestApiId"
DEFAULT_USAGE_PLAN_ID = "DefaultUsagePlanId"
STAGE_NAME = "StageName"

# The environment variable a process gets from the stage for its API's base URL (no function reads it).
API_URL_ENV = "API_URL"


def usage_plan_outputs() -> dict[str, str]:
    """The usage plans' environment variable -> the output that carries its value."""
    return {
        "REST_API_ID": REST_API_ID,
        "DEFAULT_USAGE_PLAN_ID": DEFAULT_USAGE_PLAN_ID,
        "STAGE_NAME": STAGE_NAME,
    }


def schedule_outputs(spec: wiring.ProgramSchedules | None = None) -> dict[str, str]:
    """The program schedules' environment variable -> the output that carries its value."""
    spec = spec or wiring.PROGRAM_SCHEDULES
    return {
        spec.group_env: SCHEDULE_GROUP,
        spec.role_env: SCHEDULER_ROLE_ARN,
        spec.target_env: SCHEDULE_TARGET_ARN,
        spec.dead_letter_env: SCHEDULE_DEAD_LETTER_QUEUE_ARN,
    }


class StageNotFound(LookupError):
    """No stack of that stage in the account and region, or it lacks outputs."""


def stack_name(stage: str) -> str:
    """`LoyaltyEngine-<stage>`, the stack of a stage (`infra.config.StageConfig.stack_name`)."""
    return f"{STACK_NAME_PREFIX}{stage}"


def bucket_output(bucket: str) -> str:
    """The output naming the wiring bucket `bucket` (`Bucket.name`), e.g. `ImportsBucketName`."""
    return f"{bucket}BucketName"


def read_outputs(cloudformation: Any, stage: str) -> dict[str, str]:
    """OutputKey -> OutputValue of the stage's stack (a botocore CloudFormation client)."""
    from botocore.exceptions import ClientError

    name = stack_name(stage)
    try:
        answer = cloudformation.describe_stacks(StackName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":  # "does not exist"
            raise StageNotFound(
                f"no stack {name} in this account and region (deploy it: make deploy STAGE={stage})"
            ) from error
        raise
    (stack,) = answer["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def stage_environment(outputs: Mapping[str, str]) -> dict[str, str]:
    """The variables the functions get, for an operator's process on the stage: the table, the
    buckets, the program schedules' settings, the usage plans', and the API's URL (API_URL)."""
    wanted = {
        "TABLE_NAME": TABLE_NAME,
        API_URL_ENV: API_URL,
        **{bucket.env: bucket_output(bucket.name) for bucket in wiring.BUCKETS},
        **schedule_outputs(),
        **usage_plan_outputs(),
    }
    missing = sorted(output for output in wanted.values() if not outputs.get(output))
    if missing:
        raise StageNotFound(f"the stack's outputs lack {missing}: deploy the current version first")
    return {variable: outputs[output] for variable, output in wanted.items()}
