"""One Lambda function per `loyalty_engine.wiring.FUNCTIONS` entry, with least-privilege access.

From the wiring: table access (and the indexes it queries), bucket access by key prefix, the
queues it sends to, the queue it consumes, the program schedules it manages (or is the target
of), and the environment naming those resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import METRICS_NAMESPACE, SERVICE_NAME, StageConfig
from infra.depends_on import drop_redundant_dependencies
from infra.layer import ARCHITECTURE, RUNTIME
from infra.queues import dead_letter_queue, queue_spec
from infra.schedules import ProgramSchedules, schedule_environment_names, schedule_target_spec
from infra.table_grants import table_statements
from loyalty_engine import wiring

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
CODE_EXCLUDES = ("__pycache__", "*.pyc", "*.egg-info")

# Object-level S3 actions per kind of wiring bucket grant, each on `<bucket>/<prefix>*` only;
# listing is granted on the bucket, conditioned on the listed prefixes. No s3:*, no bucket "*".
# The importer reads and deletes the exact version it applied (the bucket is versioned).
OBJECT_ACTIONS: tuple[tuple[str, str], ...] = (
    ("read", "s3:GetObject"),
    ("read", "s3:GetObjectVersion"),
    ("write", "s3:PutObject"),
    ("delete", "s3:DeleteObject"),
    ("delete", "s3:DeleteObjectVersion"),
)
# Listing a prefix's versions too: the importer takes a name's uploads oldest first.
LIST_ACTIONS: tuple[str, ...] = ("s3:ListBucket", "s3:ListBucketVersions")
SEND_ACTION = "sqs:SendMessage"


def _key_prefix(spec: wiring.Function, grant: wiring.BucketGrant, prefix: str) -> str:
    """`prefix*`, refusing a prefix that would widen the grant to the whole bucket or beyond it."""
    if not prefix or "*" in prefix or "?" in prefix or not prefix.endswith("/"):
        raise ValueError(
            f"wiring function {spec.name}: bucket {grant.bucket} prefix {prefix!r} must be a folder "
            "like 'incoming/' (no wildcards, not the whole bucket)"
        )
    return f"{prefix}*"


def bucket_statements(
    spec: wiring.Function, grant: wiring.BucketGrant, bucket: s3.IBucket
) -> list[iam.PolicyStatement]:
    """The statements of one wiring bucket grant: one per action, on the granted prefixes only."""
    statements = [
        iam.PolicyStatement(
            actions=[action],
            resources=[bucket.arn_for_objects(_key_prefix(spec, grant, p)) for p in getattr(grant, kind)],
        )
        for kind, action in OBJECT_ACTIONS
        if getattr(grant, kind)
    ]
    if grant.list:
        statements += [
            iam.PolicyStatement(
                actions=[action],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [_key_prefix(spec, grant, p) for p in grant.list]}},
            )
            for action in LIST_ACTIONS
        ]
    return statements


# SQS's bounds of an event source's maximum concurrency (ScalingConfig.MaximumConcurrency).
MIN_QUEUE_CONCURRENCY, MAX_QUEUE_CONCURRENCY = 2, 1000


def is_worker(spec: wiring.Function) -> bool:
    """A function that serves no API request: queues, schedules, deploys invoke it."""
    return not spec.routes and not spec.is_authorizer


def check_concurrency(spec: wiring.Function) -> None:
    """Every worker has a concurrency cap, so that imports, jobs and batches cannot take the
    concurrency the API needs: a queue-fed worker its event source's maximum concurrency (no
    throttling: messages wait in the queue), any other worker reserved concurrency."""
    trigger = spec.queue_trigger
    if trigger is not None and trigger.max_concurrency is not None:
        if not MIN_QUEUE_CONCURRENCY <= trigger.max_concurrency <= MAX_QUEUE_CONCURRENCY:
            raise ValueError(
                f"wiring function {spec.name}: max_concurrency {trigger.max_concurrency} is not in "
                f"{MIN_QUEUE_CONCURRENCY}..{MAX_QUEUE_CONCURRENCY} (SQS's bounds)"
            )
        if spec.reserved_concurrency is not None and spec.reserved_concurrency < trigger.max_concurrency:
            raise ValueError(
                f"wiring function {spec.name}: reserved concurrency {spec.reserved_concurrency} below its "
                f"queue's max_concurrency {trigger.max_concurrency} would throttle the queue's invocations "
                "(and move messages towards the dead-letter queue)"
            )
    if spec.reserved_concurrency is not None and spec.reserved_concurrency < 1:
        raise ValueError(f"wiring function {spec.name}: reserved_concurrency must be at least 1")
    if not is_worker(spec):
        return
    if trigger is not None and trigger.max_concurrency is None:
        raise ValueError(
            f"wiring function {spec.name} consumes the {trigger.queue} queue without a cap: set its "
            "QueueTrigger's max_concurrency, so that a burst of messages cannot take the API's concurrency"
        )
    if trigger is None and spec.reserved_concurrency is None and spec.stream_trigger is None:
        raise ValueError(
            f"wiring function {spec.name} serves no route and has no concurrency cap: set its "
            "reserved_concurrency, so that a burst of invocations cannot take the API's concurrency"
        )


def function_environment(
    spec: wiring.Function,
    *,
    table_name: str,
    bucket_names: Mapping[str, str],
    queue_urls: Mapping[str, str],
    schedules: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The function's environment: common settings, every bucket's name, the URL of each queue
    it sends to, the program schedules' settings if it manages them (`schedules`, by variable
    name), then the wiring's own `environment` (which may not override any of these).

    Every function gets every bucket's name (a name is not a secret, and e.g. the API reports
    where an import's report lives); what it may do in a bucket is decided by its grants only.
    """
    common = {
        "TABLE_NAME": table_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    schedule_vars = schedule_environment_names()
    resource_vars = [
        *(bucket.env for bucket in wiring.BUCKETS),
        *(queue.env for queue in wiring.QUEUES),
        *schedule_vars,
    ]
    taken = sorted(
        {v for v in resource_vars if resource_vars.count(v) > 1} | (common.keys() & set(resource_vars))
    )
    if taken:
        raise ValueError(f"wiring: bucket, queue and schedule environment variables {taken} are not distinct")
    resources = {bucket.env: bucket_names[bucket.name] for bucket in wiring.BUCKETS}
    resources.update({queue_spec(name).env: queue_urls[name] for name in spec.sends_to})
    if spec.manages_schedules:
        if schedules is None or set(schedules) != set(schedule_vars):
            raise ValueError(
                f"wiring function {spec.name} manages the program schedules: its environment needs "
                f"exactly {sorted(schedule_vars)}, got {sorted(schedules or {})}"
            )
        resources.update(schedules)
    clashes = sorted((common.keys() | set(resource_vars)) & spec.environment.keys())
    if clashes:
        raise ValueError(f"wiring function {spec.name}: environment may not override {clashes}")
    return {**common, **resources, **spec.environment}


def function_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=list(CODE_EXCLUDES))


class LoyaltyFunction(Construct):
    """A wiring function: its Lambda, own role and log group, and either its queue trigger or
    a dead-letter queue for failed asynchronous invocations. The schedule target is attached to
    the program schedules; a function managing them gets their settings and may manage them.

    A queue-triggered function has no dead-letter queue of its own: Lambda polls the queue
    (a synchronous invocation), and a message it fails `max_receive_count` times moves to
    the queue's dead-letter queue, where the alarm is. A stream-triggered function's
    dead-letter queue is its event source mapping's on-failure destination (infra/domain_events.py).
    """

    def __init__(
        self,
        scope: Construct,
        spec: wiring.Function,
        *,
        config: StageConfig,
        table: dynamodb.ITable,
        layer: lambda_.ILayerVersion,
        code: lambda_.Code,
        buckets: Mapping[str, s3.IBucket],
        queues: Mapping[str, sqs.IQueue],
        schedules: ProgramSchedules,
    ) -> None:
        super().__init__(scope, spec.name)
        self.spec = spec
        check_concurrency(spec)
        unknown_queues = sorted(
            {*spec.sends_to, *([spec.queue_trigger.queue] if spec.queue_trigger else [])} - set(queues)
        )
        unknown_buckets = sorted({grant.bucket for grant in spec.buckets} - set(buckets))
        if unknown_queues or unknown_buckets:
            raise ValueError(
                f"wiring function {spec.name}: unknown queues {unknown_queues} / buckets {unknown_buckets}"
            )

        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=config.log_retention, removal_policy=config.removal_policy
        )
        # Failed asynchronous invocations (after Lambda's retries) land here.
        self.dead_letter_queue: sqs.Queue | None = None
        if spec.queue_trigger is None:
            self.dead_letter_queue = dead_letter_queue(self, config)
        # An own role instead of the AWSLambdaBasicExecutionRole managed policy: it may
        # write to its own log group only (the group exists, so no logs:CreateLogGroup).
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Loyalty engine {spec.name} function ({spec.table_access} table access)",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=spec.handler,
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment=function_environment(
                spec,
                table_name=table.table_name,
                bucket_names={name: bucket.bucket_name for name, bucket in buckets.items()},
                queue_urls={name: queue.queue_url for name, queue in queues.items()},
                schedules=schedules.environment() if spec.manages_schedules else None,
            ),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            dead_letter_queue=self.dead_letter_queue if spec.stream_trigger is None else None,
        )
        for statement in table_statements(spec, table):
            self.role.add_to_principal_policy(statement)
        for grant in spec.buckets:
            for statement in bucket_statements(spec, grant, buckets[grant.bucket]):
                self.role.add_to_principal_policy(statement)
        if spec.sends_to:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[SEND_ACTION], resources=[queues[name].queue_arn for name in spec.sends_to]
                )
            )
        if spec.queue_trigger is not None:
            self._consume(spec.queue_trigger, queues[spec.queue_trigger.queue])
        if spec.schedule_target:
            schedules.set_target(self.function)
        if spec.manages_schedules:
            schedules.grant_manage(self.role)
        self._drop_redundant_role_dependency()

    def _consume(self, trigger: wiring.QueueTrigger, queue: sqs.IQueue) -> None:
        queue_timeout = queue_spec(trigger.queue).visibility_timeout_s
        if queue_timeout < self.spec.timeout_s:
            raise ValueError(
                f"wiring: queue {trigger.queue} has a visibility timeout of {queue_timeout} s, shorter "
                f"than the {self.spec.timeout_s} s timeout of {self.spec.name}, which consumes it: a "
                "message would be delivered again while it is still being processed"
            )
        # Grants the role the receive/delete permissions on the queue (and nothing else).
        self.function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=trigger.batch_size,
                report_batch_item_failures=True,
                max_concurrency=trigger.max_concurrency,
            )
        )

    def _drop_redundant_role_dependency(self) -> None:
        cfn_function = self.function.node.default_child
        cfn_role = self.role.node.default_child
        if not (isinstance(cfn_function, CfnResource) and isinstance(cfn_role, CfnResource)):
            raise TypeError("expected the function and its role to be CloudFormation resources")
        drop_redundant_dependencies(cfn_function, [cfn_role])


def build_functions(
    scope: Construct,
    *,
    config: StageConfig,
    table: dynamodb.ITable,
    layer: lambda_.ILayerVersion,
    buckets: Mapping[str, s3.IBucket],
    queues: Mapping[str, sqs.IQueue],
    schedules: ProgramSchedules,
) -> dict[str, LoyaltyFunction]:
    """The wiring functions, by name, in wiring order."""
    names = [spec.name for spec in wiring.FUNCTIONS]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"wiring.FUNCTIONS: duplicate function names {duplicates}")
    schedule_target_spec()  # exactly one, and it does not manage the schedules
    code = function_code()
    container = Construct(scope, "Functions")
    # The functions managing the program schedules are built last: their environment names the
    # schedule target's ARN, known once the target is built.
    built = {
        spec.name: LoyaltyFunction(
            container,
            spec,
            config=config,
            table=table,
            layer=layer,
            code=code,
            buckets=buckets,
            queues=queues,
            schedules=schedules,
        )
        for spec in sorted(wiring.FUNCTIONS, key=lambda spec: spec.manages_schedules)
    }
    return {spec.name: built[spec.name] for spec in wiring.FUNCTIONS}
