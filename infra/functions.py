"""One Lambda function per `loyalty_engine.wiring.FUNCTIONS` entry, with least-privilege table access."""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import CfnResource, Duration, IStableListProducer, Lazy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import METRICS_NAMESPACE, SERVICE_NAME, StageConfig
from infra.layer import ARCHITECTURE, RUNTIME
from loyalty_engine import table as table_shape
from loyalty_engine import wiring

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
CODE_EXCLUDES = ("__pycache__", "*.pyc", "*.egg-info")

# Item-level actions only. Transactions have no IAM action of their own: TransactWriteItems
# is authorized per item by PutItem/UpdateItem/DeleteItem/ConditionCheckItem, and
# TransactGetItems by GetItem. No Scan, no table management, no dynamodb:*.
READ_ACTIONS: tuple[str, ...] = ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS: tuple[str, ...] = ("dynamodb:Query",)


def table_actions(access: wiring.TableAccess) -> tuple[str, ...]:
    if access == "read":
        return READ_ACTIONS
    if access == "read_write":
        return READ_ACTIONS + WRITE_ACTIONS
    raise ValueError(f"unknown table access {access!r}")


def queried_indexes(spec: wiring.Function) -> list[table_shape.Index]:
    """The table's GSIs the wiring says the function queries (an unknown name is an error)."""
    by_name = {index.name: index for index in table_shape.GLOBAL_SECONDARY_INDEXES}
    unknown = sorted(set(spec.indexes) - set(by_name))
    if unknown:
        raise ValueError(f"wiring: {spec.name} names unknown indexes {unknown}")
    return [by_name[name] for name in spec.indexes]


@jsii.implements(IStableListProducer)
class _DependsOnExcept:
    """`resource`'s DependsOn (known only once the app is prepared) without `redundant`."""

    def __init__(self, resource: CfnResource, redundant: CfnResource) -> None:
        self.resource = resource
        self.redundant = redundant

    def produce(self) -> list[str] | None:
        stack = Stack.of(self.resource)
        logical_ids = sorted(
            stack.resolve(stack.get_logical_id(dependency))
            for dependency in self.resource.obtain_dependencies()
            if isinstance(dependency, CfnResource) and dependency.node.path != self.redundant.node.path
        )
        return logical_ids or None


def function_environment(spec: wiring.Function, *, table_name: str) -> dict[str, str]:
    common = {
        "TABLE_NAME": table_name,
        "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    clashes = sorted(common.keys() & spec.environment.keys())
    if clashes:
        raise ValueError(f"wiring function {spec.name}: environment may not override {clashes}")
    return {**common, **spec.environment}


def function_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=list(CODE_EXCLUDES))


class LoyaltyFunction(Construct):
    """A wiring function: its Lambda, own role, log group and dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        spec: wiring.Function,
        *,
        config: StageConfig,
        table: dynamodb.ITable,
        layer: lambda_.ILayerVersion,
        code: lambda_.Code,
    ) -> None:
        super().__init__(scope, spec.name)
        self.spec = spec

        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=config.log_retention, removal_policy=config.removal_policy
        )
        # Failed asynchronous invocations (after Lambda's retries) land here.
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=config.removal_policy,
        )
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
            environment=function_environment(spec, table_name=table.table_name),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            dead_letter_queue=self.dead_letter_queue,
        )
        self._grant_table_access(table)
        self._drop_redundant_role_dependency()

    def _drop_redundant_role_dependency(self) -> None:
        # CDK makes the function depend on its role *and* the role's policy. The policy
        # dependency matters (Lambda checks the dead-letter queue permission on create);
        # the role one is implied by the Fn::GetAtt of its ARN, and cfn-lint flags it (W3005).
        cfn_function = self.function.node.default_child
        cfn_role = self.role.node.default_child
        if not (isinstance(cfn_function, CfnResource) and isinstance(cfn_role, CfnResource)):
            raise TypeError("expected the function and its role to be CloudFormation resources")
        cfn_function.add_override("DependsOn", Lazy.list(_DependsOnExcept(cfn_function, cfn_role)))

    def _grant_table_access(self, table: dynamodb.ITable) -> None:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(table_actions(self.spec.table_access)), resources=[table.table_arn]
            )
        )
        if indexes := queried_indexes(self.spec):
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(INDEX_ACTIONS),
                    resources=[f"{table.table_arn}/index/{index.name}" for index in indexes],
                )
            )


def build_functions(
    scope: Construct, *, config: StageConfig, table: dynamodb.ITable, layer: lambda_.ILayerVersion
) -> dict[str, LoyaltyFunction]:
    names = [spec.name for spec in wiring.FUNCTIONS]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"wiring.FUNCTIONS: duplicate function names {duplicates}")
    code = function_code()
    container = Construct(scope, "Functions")
    return {
        spec.name: LoyaltyFunction(container, spec, config=config, table=table, layer=layer, code=code)
        for spec in wiring.FUNCTIONS
    }
