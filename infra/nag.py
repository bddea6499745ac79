"""cdk-nag (AwsSolutions pack) registration and acknowledgments, each with its reason.

cdk-nag 3 is a CDK policy-validation plugin: findings are reported in the cloud assembly's
`validation-report.json` (and an error fails synth); accepted findings are acknowledged with
`Validations.of(construct).acknowledge(...)` and listed in that report as suppressed, with
their reason. Acknowledgments are narrow on purpose: on the resource concerned, and per
finding (`AwsSolutions-IAM5[Resource::*]`) where the rule reports what exactly it found, so
that a new finding of the same rule elsewhere still fails.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.config import DEAD_LETTER_RETENTION, StageConfig
from infra.functions import OBJECT_ACTIONS, LoyaltyFunction
from infra.layer import PIP_PLATFORMS, PIP_PYTHON_VERSION
from infra.schedules import MANAGE_ACTIONS, ProgramSchedules
from loyalty_engine import wiring

PACK = "AwsSolutions"


def _acknowledgment(rule: str, reason: str) -> Acknowledgment:
    # Namespaced with the pack ("AwsSolutions::<rule>", the form the CDK CLI prints): CDK then
    # moves the finding to the report's suppressedViolations, with this reason, as an audit trail.
    return Acknowledgment(id=f"{PACK}::{rule}", reason=reason)


APIGW_CLOUDWATCH_POLICY = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
)

XRAY_WILDCARD = _acknowledgment(
    "AwsSolutions-IAM5[Resource::*]",
    reason=(
        "Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support "
        "no resource-level permissions, so IAM requires Resource '*'. It is the only '*' resource: the "
        "table, index, log group, queue and bucket statements name their ARNs (bucket objects by key prefix)."
    ),
)


XRAY_AND_LIST_SCHEDULES_WILDCARD = _acknowledgment(
    "AwsSolutions-IAM5[Resource::*]",
    reason=(
        "Two actions support no resource-level permissions, so IAM requires Resource '*': the X-Ray "
        "tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords), and scheduler:ListSchedules, "
        "with which the schedule sync (syncs_schedules in loyalty_engine/wiring.py) finds the schedules no "
        "program wants (it lists its own group only; what it may change is the group's schedules, by their "
        "ARN). The table, index and log group statements name their ARNs."
    ),
)


def object_prefix_wildcard(
    bucket_logical_id: str, bucket: str, prefix: str, actions: list[str]
) -> Acknowledgment:
    """The `<bucket ARN>/<prefix>*` resource of a wiring `BucketGrant` (one finding per prefix)."""
    return _acknowledgment(
        f"AwsSolutions-IAM5[Resource::<{bucket_logical_id}.Arn>/{prefix}*]",
        reason=(
            f"{', '.join(sorted(actions))} on the objects under '{prefix}' in the {bucket} bucket only, as the "
            "function's BucketGrant in loyalty_engine/wiring.py says: object keys are made at run time (per "
            "loyalty group and file), so a key prefix is the narrowest resource IAM can name; no s3:*, no "
            "other prefix, no other bucket."
        ),
    )


def bucket_grant_acknowledgments(spec: wiring.Function, bucket_ids: dict[str, str]) -> list[Acknowledgment]:
    """One acknowledgment per (bucket, object prefix) the wiring grants `spec` (listing has no wildcard)."""
    actions: dict[tuple[str, str], list[str]] = {}
    for grant in spec.buckets:
        for kind, action in OBJECT_ACTIONS:
            for prefix in getattr(grant, kind):
                actions.setdefault((grant.bucket, prefix), []).append(action)
    return [
        object_prefix_wildcard(bucket_ids[bucket], bucket, prefix, granted)
        for (bucket, prefix), granted in actions.items()
    ]


def schedules_wildcard(group_logical_id: str, schedules: wiring.ProgramSchedules) -> Acknowledgment:
    """`schedule/<group>/*`: the schedules of the program schedules' group, for a function managing them."""
    return _acknowledgment(
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:"
        f"schedule/<{group_logical_id}>/*]",
        reason=(
            f"{', '.join(MANAGE_ACTIONS)} on the schedules of the {schedules.name} schedule group only "
            "(manages_schedules in loyalty_engine/wiring.py): the function creates one schedule per program "
            "and job at run time, named from them, so the group is the narrowest resource IAM can name; no "
            "group or tag management, no other group (ListSchedules for the schedule sync alone), and "
            "iam:PassRole on Scheduler's role only, conditioned on iam:PassedToService scheduler.amazonaws.com."
        ),
    )


def schedules_dead_letter_queue(schedules: wiring.ProgramSchedules) -> Acknowledgment:
    """The program schedules' dead-letter queue, which only the schedules made at run time name."""
    return _acknowledgment(
        "AwsSolutions-SQS3",
        reason=(
            f"This queue is itself a dead-letter queue: that of the {schedules.name} EventBridge Scheduler "
            "schedules, which the functions with manages_schedules create at run time with a DeadLetterConfig "
            f"naming it (their {schedules.dead_letter_env}), so no resource of the template refers to it as a "
            "DLQ. Like the other dead-letter queues it is encrypted, SSL only, kept "
            f"{DEAD_LETTER_RETENTION.to_days()} days and alarmed on."
        ),
    )


def stream_on_failure_queue(spec: wiring.Function) -> Acknowledgment:
    """The on-failure destination of a stream-triggered function's event source mapping."""
    return _acknowledgment(
        "AwsSolutions-SQS3",
        reason=(
            f"This queue is itself a dead-letter queue: the on-failure destination of the {spec.name} "
            "function's event source mapping on the table's stream (infra/domain_events.py), where Lambda "
            "sends the description of the stream records it gave up on; a destination is not a redrive "
            "policy, so cdk-nag does not see it as a DLQ. Like the other dead-letter queues it is encrypted, "
            f"SSL only, kept {DEAD_LETTER_RETENTION.to_days()} days and alarmed on."
        ),
    )


RUNTIME_PINNED = _acknowledgment(
    "AwsSolutions-L1",
    reason=(
        f"The runtime is pinned to python{PIP_PYTHON_VERSION} on purpose: the dependency layer is built "
        f"from cp{PIP_PYTHON_VERSION.replace('.', '')} {' / '.join(PIP_PLATFORMS)} wheels (infra/layer.py), so the "
        "runtime and the layer's wheel tags must change together, after the dependencies are tested on "
        "the newer Python."
    ),
)

APIGW_CLOUDWATCH_ROLE = _acknowledgment(
    f"AwsSolutions-IAM4[{APIGW_CLOUDWATCH_POLICY}]",
    reason=(
        "The account-level role API Gateway writes execution and access logs with (needed for APIG1 and "
        "APIG6) uses AmazonAPIGatewayPushToCloudWatchLogs, the AWS-maintained policy made for this one "
        "purpose; it grants CloudWatch Logs actions only, and no function or user assumes the role."
    ),
)

REQUEST_VALIDATION_IN_HANDLER = _acknowledgment(
    "AwsSolutions-APIG2",
    reason=(
        "Requests are validated in the API function by the Powertools REST resolver against pydantic "
        "models, which answers 422 {code: validation_error, message, details} naming every failing field; "
        "an API Gateway validator would duplicate those schemas and answer in another, less precise shape."
    ),
)

NO_WAF = _acknowledgment(
    "AwsSolutions-APIG3",
    reason=(
        "No WAFv2 web ACL: callers are server-side merchant and partner integrations, every method "
        "requires an API key checked by the Lambda authorizer, and the stage throttles every method "
        f"({StageConfig.api_rate_limit} rps, burst {StageConfig.api_burst_limit}). A web ACL would add "
        "cost without a rule set to enforce; attach one (e.g. through Firewall Manager) if the API is "
        "ever opened to browsers or untrusted traffic."
    ),
)

NOT_COGNITO = _acknowledgment(
    "AwsSolutions-COG4",
    reason=(
        "Callers are machine clients (merchant and partner systems) identified by API keys, not Cognito "
        "user-pool users: every method uses the REQUEST authorizer, which resolves the key to its loyalty "
        "group, merchant and scopes (so APIG4, authorization on every method, passes)."
    ),
)


PUBLIC_DOCS = _acknowledgment(
    "AwsSolutions-APIG4",
    reason=(
        "GET /v1/docs, Swagger UI of the API's OpenAPI document, is public on non-production stages "
        "only (StageConfig.swagger_ui; absent in prod): a browser opening it has no API key to send. "
        "It serves the published API description and no data; every data route keeps the authorizer."
    ),
)


def add_nag_checks(app: App) -> AwsSolutionsChecks:
    checks = AwsSolutionsChecks(app, verbose=True)
    Validations.of(app).add_plugins(checks)
    return checks


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    """Logical id of a construct's CloudFormation resource (or of a CloudFormation resource itself)."""
    resource = construct if isinstance(construct, CfnElement) else construct.node.default_child
    if not isinstance(resource, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return str(stack.resolve(stack.get_logical_id(resource)))


def _acknowledge(construct: IConstruct, *acknowledgments: Acknowledgment) -> None:
    Validations.of(construct).acknowledge(*acknowledgments)


def add_nag_acknowledgments(
    stack: Stack,
    *,
    functions: Mapping[str, LoyaltyFunction],
    buckets: Mapping[str, s3.IBucket],
    schedules: ProgramSchedules,
    rest_api: apigw.RestApi,
    docs_method: apigw.Method | None = None,
) -> None:
    """Acknowledge the accepted findings on the stack's functions, schedules and API."""
    bucket_ids = {name: _logical_id(stack, bucket) for name, bucket in buckets.items()}
    schedule_group_id = _logical_id(stack, schedules.group)
    for fn in functions.values():
        manages = [schedules_wildcard(schedule_group_id, schedules.spec)] if fn.spec.manages_schedules else []
        wildcard = XRAY_AND_LIST_SCHEDULES_WILDCARD if fn.spec.syncs_schedules else XRAY_WILDCARD
        _acknowledge(fn.role, wildcard, *bucket_grant_acknowledgments(fn.spec, bucket_ids), *manages)
        _acknowledge(fn.function, RUNTIME_PINNED)
        if fn.spec.stream_trigger is not None and fn.dead_letter_queue is not None:
            _acknowledge(fn.dead_letter_queue, stream_on_failure_queue(fn.spec))
    _acknowledge(schedules.dead_letter_queue, schedules_dead_letter_queue(schedules.spec))

    cloudwatch_role = rest_api.node.try_find_child("CloudWatchRole")  # only when opted in
    if cloudwatch_role is not None:
        _acknowledge(cloudwatch_role, APIGW_CLOUDWATCH_ROLE)
    _acknowledge(rest_api.deployment_stage, NO_WAF)
    _acknowledge(rest_api, REQUEST_VALIDATION_IN_HANDLER)
    # On the API, so it covers every method, including those a new wiring route adds.
    _acknowledge(rest_api, NOT_COGNITO)
    if docs_method is not None:
        _acknowledge(docs_method, PUBLIC_DOCS)
