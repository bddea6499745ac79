"""The metrics the alarms (`infra.monitoring`) and the dashboard (`infra.dashboard`) both read."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb

from infra.config import METRICS_NAMESPACE, SERVICE_NAME
from infra.schedules import ProgramSchedules

PERIOD = Duration.minutes(5)
# A queue's oldest message older than this: its consumer is failing, stuck or too slow.
QUEUE_OLDEST_MESSAGE_AGE = Duration.hours(1)
# The reconciliation job's count of members whose balance is not the sum of their ledger,
# emitted with Powertools Metrics (namespace METRICS_NAMESPACE, dimension service=SERVICE_NAME).
BALANCE_DRIFT_METRIC = "BalanceDrift"
# EventBridge Scheduler's metrics, per schedule group.
SCHEDULER_NAMESPACE = "AWS/Scheduler"


def custom_metric(metric_name: str, *, statistic: str, period: Duration = PERIOD) -> cloudwatch.Metric:
    """A metric the functions emit with Powertools Metrics (its `service` dimension included)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": SERVICE_NAME},
        statistic=statistic,
        period=period,
    )


def scheduler_metric(
    schedules: ProgramSchedules, metric_name: str, *, label: str | None = None
) -> cloudwatch.Metric:
    """An EventBridge Scheduler metric of the schedule group (Sum over PERIOD)."""
    return cloudwatch.Metric(
        namespace=SCHEDULER_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"ScheduleGroup": schedules.group_name},
        statistic="Sum",
        period=PERIOD,
        label=label,
    )


DYNAMODB_NAMESPACE = "AWS/DynamoDB"
# The table operations the functions call (a metric math expression may sum at most 10 metrics).
TABLE_OPERATIONS: tuple[dynamodb.Operation, ...] = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.BATCH_GET_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.BATCH_WRITE_ITEM,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)


def index_metric(
    table: dynamodb.ITable, index: str, metric_name: str, *, label: str | None = None
) -> cloudwatch.Metric:
    """A DynamoDB metric of one global secondary index of the table (Sum over PERIOD)."""
    return cloudwatch.Metric(
        namespace=DYNAMODB_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"TableName": table.table_name, "GlobalSecondaryIndexName": index},
        statistic="Sum",
        period=PERIOD,
        label=label,
    )
