"""The CloudWatch dashboard: the API, every function, queue, the program schedules, the
reconciliation's drift and the table (its capacity, throttles and system errors, its indexes' too)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from infra.functions import LoyaltyFunction
from infra.metrics import (
    BALANCE_DRIFT_METRIC,
    PERIOD,
    QUEUE_OLDEST_MESSAGE_AGE,
    TABLE_OPERATIONS,
    custom_metric,
    index_metric,
    scheduler_metric,
)
from infra.queues import LoyaltyQueue
from infra.schedules import ProgramSchedules
from loyalty_engine.kernel import table as table_shape


def build_dashboard(
    scope: Construct,
    config: StageConfig,
    functions: Sequence[LoyaltyFunction],
    queues: Sequence[LoyaltyQueue],
    schedules: ProgramSchedules,
    rest_api: apigw.RestApi,
    table: dynamodb.ITable,
) -> cloudwatch.Dashboard:
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=f"LoyaltyEngine-{config.stage}")
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="API requests",
            left=[rest_api.metric_count(period=PERIOD, statistic="Sum")],
            right=[
                rest_api.metric_client_error(period=PERIOD, statistic="Sum"),
                rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            ],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="API latency (ms)",
            left=[
                rest_api.metric_latency(period=PERIOD, statistic="p50"),
                rest_api.metric_latency(period=PERIOD, statistic="p99"),
                rest_api.metric_integration_latency(period=PERIOD, statistic="p99"),
            ],
            width=12,
        ),
    )
    for fn in functions:
        name = fn.spec.name
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{name} invocations",
                left=[
                    fn.function.metric_invocations(period=PERIOD, statistic="Sum"),
                    fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                    fn.function.metric_throttles(period=PERIOD, statistic="Sum"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"{name} duration (ms)",
                left=[
                    fn.function.metric_duration(period=PERIOD, statistic="p50"),
                    fn.function.metric_duration(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )
    for queue in queues:
        name = queue.spec.name
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"{name} queue messages",
                left=[
                    queue.queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum"
                    ),
                    queue.queue.metric_approximate_number_of_messages_not_visible(
                        period=PERIOD, statistic="Maximum"
                    ),
                    queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label="Dead letters"
                    ),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title=f"{name} queue oldest message (s)",
                left=[
                    queue.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum")
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=QUEUE_OLDEST_MESSAGE_AGE.to_seconds(), label="alarm"
                    )
                ],
                width=12,
            ),
        )
    name = schedules.spec.name
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title=f"{name} schedules invocations",
            left=[
                scheduler_metric(schedules, "InvocationAttemptCount", label="Attempts"),
                scheduler_metric(schedules, "TargetErrorCount", label="Target errors"),
                scheduler_metric(schedules, "InvocationsSentToDeadLetterCount", label="Sent to DLQ"),
                scheduler_metric(
                    schedules, "InvocationsFailedToBeSentToDeadLetterCount", label="Lost (DLQ failed)"
                ),
            ],
            right=[
                schedules.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum", label="Dead letters"
                )
            ],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Reconciliation: members with balance drift",
            left=[custom_metric(BALANCE_DRIFT_METRIC, statistic="Sum")],
            left_annotations=[cloudwatch.HorizontalAnnotation(value=0, label="alarm above")],
            width=12,
        ),
    )
    # One math expression per graph: each reuses the operation names as metric ids.
    operations = list(TABLE_OPERATIONS)
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Table consumed capacity",
            left=[
                table.metric_consumed_read_capacity_units(period=PERIOD, statistic="Sum"),
                table.metric_consumed_write_capacity_units(period=PERIOD, statistic="Sum"),
            ],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Table throttled requests",
            left=[table.metric_throttled_requests_for_operations(period=PERIOD, operations=operations)],
            width=8,
        ),
        cloudwatch.GraphWidget(
            title="Table system errors",
            left=[table.metric_system_errors_for_operations(period=PERIOD, operations=operations)],
            width=8,
        ),
    )
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Table throttle events (table and indexes)",
            left=[
                table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum", label="table reads"),
                table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum", label="table writes"),
                *(
                    index_metric(table, index.name, name, label=f"{index.name} {name}")
                    for index in table_shape.GLOBAL_SECONDARY_INDEXES
                    for name in ("ReadThrottleEvents", "WriteThrottleEvents")
                ),
            ],
            width=24,
        )
    )
    return dashboard
