"""The program schedules are brought in line with the table after every deploy: the wiring
function with `syncs_schedules` is the stack's custom resource `Custom::ProgramSchedulesSync`.

The schedules live outside CloudFormation (the API makes them per program, at run time), so a
stack re-created around its table, or a schedule group re-created, has programs without
schedules. CloudFormation invokes the function when the resource is created (a new stack) and
whenever one of its properties changes: the schedules' settings (group, Scheduler's role, the
target, the dead-letter queue, the retry policy), the functions' code (its asset hash), and the
`deploy_id` context, which `make deploy` sets to the time of the deploy so that every deploy
syncs, even one that changes nothing else. Why a custom resource and not a step of `make
deploy`: it runs however the stack is deployed (a pipeline, `cdk deploy`, a re-created stack),
with the function's own least-privilege role, not the deployer's credentials
(docs/deploying.md#schedules-after-every-deploy).

The function answers SUCCESS whatever happens (a failed sync must not roll a deploy back, nor
fail the rollback), reports a failure as its own error afterwards (its error alarm; the event in
its dead-letter queue), and Lambda does not retry it (a retry would answer CloudFormation again).
"""

from __future__ import annotations

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.functions import LoyaltyFunction
from infra.schedules import ProgramSchedules
from loyalty_engine import wiring

RESOURCE_TYPE = "Custom::ProgramSchedulesSync"
# `cdk deploy -c deploy_id=...`: any value that differs between deploys (make deploy: the UTC time).
DEPLOY_ID_CONTEXT = "deploy_id"
# CloudFormation waits this long for the answer (its default is an hour): the function's timeout and a margin.
ANSWER_MARGIN = Duration.minutes(5)


def sync_spec(functions: tuple[wiring.Function, ...] | None = None) -> wiring.Function:
    """The one wiring function with `syncs_schedules`; it must manage the schedules too."""
    functions = wiring.FUNCTIONS if functions is None else functions
    syncs = [spec for spec in functions if spec.syncs_schedules]
    if len(syncs) != 1:
        raise ValueError(
            "wiring.FUNCTIONS must have exactly one function syncing the program schedules "
            f"(syncs_schedules=True), found {len(syncs)}: {[spec.name for spec in syncs]}"
        )
    (spec,) = syncs
    if not spec.manages_schedules or spec.queue_trigger is not None or spec.routes:
        raise ValueError(
            f"wiring function {spec.name} syncs the schedules: it must manage them (manages_schedules=True) "
            "and have no other trigger (no queue, no routes)"
        )
    return spec


def code_hash(function: lambda_.Function) -> str:
    """The hash of the function's code asset (the S3 key it is deployed from)."""
    cfn = function.node.default_child
    code = getattr(cfn, "code", None)
    key = getattr(code, "s3_key", None)
    if not isinstance(key, str):
        raise TypeError(f"{function.node.path}: its code is not an S3 asset")
    return key


class ScheduleSync(Construct):
    """The custom resource that runs the schedule sync function on every deploy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: LoyaltyFunction,
        schedules: ProgramSchedules,
        deploy_id: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        spec = sync_spec()
        self.function = function.function
        if function.spec is not spec:
            raise ValueError(f"the schedule sync is {spec.name}, not {function.spec.name}")
        # It lists the group's schedules to find those no program wants.
        schedules.grant_list(function.role)
        # CloudFormation invokes it asynchronously: a retry would answer it a second time.
        function.function.configure_async_invoke(retry_attempts=0)
        properties: dict[str, object] = {
            **schedules.environment(),  # group, role, target, dead-letter queue, by variable name
            "RetryAttempts": schedules.spec.retry_attempts,
            "MaximumEventAgeSeconds": schedules.spec.max_event_age_s,
            "Code": code_hash(function.function),
        }
        if deploy_id:
            properties["DeployId"] = deploy_id
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=function.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=properties,
            service_timeout=Duration.seconds(spec.timeout_s).plus(ANSWER_MARGIN),
        )
        # Not invoked before Lambda knows not to retry it.
        self.resource.node.add_dependency(function.function.node.find_child("EventInvokeConfig"))
