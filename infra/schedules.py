"""The program schedules (`loyalty_engine.wiring.PROGRAM_SCHEDULES`): an EventBridge Scheduler
schedule group, the role Scheduler assumes to invoke the schedule target, and the dead-letter
queue of invocations that failed all their retries.

The schedules themselves (one per program and job) are not in the template: the functions with
`manages_schedules` create, update and delete them at run time to follow the programs' settings.
Such a function gets, in the environment variables `PROGRAM_SCHEDULES` names, the group's name,
the role's ARN, the target's ARN and the dead-letter queue's ARN, and may manage the schedules
of this group only, passing this role only. The target is the one wiring function with
`schedule_target`: this role may invoke it and send to the dead-letter queue, nothing else.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.config import StageConfig
from infra.queues import dead_letter_queue
from loyalty_engine import wiring

SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
INVOKE_ACTION = "lambda:InvokeFunction"
SEND_ACTION = "sqs:SendMessage"
# What a function managing the schedules may do, on the schedules of the group only. No
# ListSchedules (it knows its schedules' names), no group or tag management, no scheduler:*.
MANAGE_ACTIONS: tuple[str, ...] = (
    "scheduler:CreateSchedule",
    "scheduler:UpdateSchedule",
    "scheduler:GetSchedule",
    "scheduler:DeleteSchedule",
)

# The schedule sync (wiring `syncs_schedules`) also lists the group's schedules, to delete those
# no program wants. ListSchedules has no resource-level permission: IAM needs Resource "*"
# (the call itself names the group).
LIST_ACTION = "scheduler:ListSchedules"

# EventBridge Scheduler's limits (a schedule outside them is refused at run time, not at deploy).
GROUP_NAME_PATTERN = re.compile(r"[0-9A-Za-z._-]{1,64}")
MAX_RETRY_ATTEMPTS = 185
MIN_EVENT_AGE_S, MAX_EVENT_AGE_S = 60, 24 * 3600


def schedule_target_spec() -> wiring.Function:
    """The one wiring function the program schedules invoke (`schedule_target=True`)."""
    targets = [spec for spec in wiring.FUNCTIONS if spec.schedule_target]
    if len(targets) != 1:
        raise ValueError(
            "wiring.FUNCTIONS must have exactly one schedule target (schedule_target=True), found "
            f"{len(targets)}: {[spec.name for spec in targets]}"
        )
    (target,) = targets
    if target.manages_schedules:
        raise ValueError(
            f"wiring function {target.name}: the schedule target cannot manage the schedules too (its "
            "environment would name its own ARN, a circular reference)"
        )
    return target


def schedule_environment_names(spec: wiring.ProgramSchedules | None = None) -> tuple[str, ...]:
    """The variables that carry the schedules' settings to the functions managing them."""
    spec = spec or wiring.PROGRAM_SCHEDULES
    return (spec.group_env, spec.role_env, spec.target_env, spec.dead_letter_env)


def schedule_group_name(config: StageConfig, spec: wiring.ProgramSchedules) -> str:
    """`LoyaltyEngine-<stage>-<name>`: one group per stage (a group name is unique per account and region)."""
    name = f"{config.stack_name}-{spec.name}"
    if not GROUP_NAME_PATTERN.fullmatch(name):
        raise ValueError(f"schedule group name {name!r}: up to 64 letters, digits, '.', '-' and '_'")
    return name


def _check_retry_policy(spec: wiring.ProgramSchedules) -> None:
    if not 0 <= spec.retry_attempts <= MAX_RETRY_ATTEMPTS:
        raise ValueError(
            f"wiring schedules {spec.name}: retry_attempts {spec.retry_attempts} is not in 0..{MAX_RETRY_ATTEMPTS}"
        )
    if not MIN_EVENT_AGE_S <= spec.max_event_age_s <= MAX_EVENT_AGE_S:
        raise ValueError(
            f"wiring schedules {spec.name}: max_event_age_s {spec.max_event_age_s} is not in "
            f"{MIN_EVENT_AGE_S}..{MAX_EVENT_AGE_S}"
        )


class ProgramSchedules(Construct):
    """The schedule group, Scheduler's role and the dead-letter queue of the wiring schedules `spec`.

    The target is attached with `set_target` once its function exists; the functions managing
    the schedules are then given `environment()` and `grant_manage`.
    """

    def __init__(self, scope: Construct, spec: wiring.ProgramSchedules, *, config: StageConfig) -> None:
        super().__init__(scope, spec.name)
        _check_retry_policy(spec)
        self.spec = spec
        self.group = scheduler.CfnScheduleGroup(self, "Group", name=schedule_group_name(config, spec))
        # Deleted with the stack, in every stage (deleting a group deletes its schedules): without
        # the stack the schedules' target is gone, and they are derived from the programs' settings
        # (re-created when a program is saved). A retained group would also keep its name taken.
        self.group.apply_removal_policy(RemovalPolicy.DESTROY)
        # Invocations that failed all their retries, or were too old to try again, land here.
        self.dead_letter_queue = dead_letter_queue(self, config)
        # Scheduler may assume the role for the schedules of this group only (confused deputy).
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(SCHEDULER_PRINCIPAL).with_conditions(
                {
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "aws:SourceArn": self.group.attr_arn,
                    }
                }
            ),
            description=f"EventBridge Scheduler: the {spec.name} schedules invoke their target with it",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=[SEND_ACTION], resources=[self.dead_letter_queue.queue_arn])
        )
        self._target: lambda_.IFunction | None = None

    @property
    def group_name(self) -> str:
        return self.group.ref  # Ref of AWS::Scheduler::ScheduleGroup is its name

    @property
    def schedules_arn(self) -> str:
        """`arn:<partition>:scheduler:<region>:<account>:schedule/<group>/*`: every schedule of the group."""
        return Stack.of(self).format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.group_name}/*"
        )

    @property
    def target(self) -> lambda_.IFunction:
        if self._target is None:
            raise RuntimeError(f"the {self.spec.name} schedules have no target yet (see set_target)")
        return self._target

    def set_target(self, function: lambda_.IFunction) -> None:
        """Let Scheduler invoke `function` (the unqualified ARN the schedules name), and nothing else."""
        if self._target is not None:
            raise ValueError(f"the {self.spec.name} schedules already have a target")
        self._target = function
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=[INVOKE_ACTION], resources=[function.function_arn])
        )

    def environment(self) -> dict[str, str]:
        """The variables a function managing the schedules gets (names from the wiring)."""
        return {
            self.spec.group_env: self.group_name,
            self.spec.role_env: self.role.role_arn,
            self.spec.target_env: self.target.function_arn,
            self.spec.dead_letter_env: self.dead_letter_queue.queue_arn,
        }

    def grant_manage(self, grantee: iam.IGrantable) -> None:
        """Create, update, read and delete the group's schedules, handing them Scheduler's role."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(MANAGE_ACTIONS), resources=[self.schedules_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
            )
        )

    def grant_list(self, grantee: iam.IGrantable) -> None:
        """List the schedules (of any group: ListSchedules supports no narrower resource)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=[LIST_ACTION], resources=["*"])
        )


def build_schedules(scope: Construct, *, config: StageConfig) -> ProgramSchedules:
    container = Construct(scope, "Schedules")
    return ProgramSchedules(container, wiring.PROGRAM_SCHEDULES, config=config)
