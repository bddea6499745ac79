"""CloudFormation's answers to DescribeStacks, stubbed (botocore Stubber): a deployed stage's
outputs for the offline tests of what reads them (infra/outputs.py, the smoke suite's target)."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.stub import Stubber

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
    "RestApiId": "abc123",
    "DefaultUsagePlanId": "plan01",
    "StageName": "dev",
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
