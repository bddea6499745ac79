"""Alarms (to an encrypted SNS topic) and a CloudWatch dashboard for the API, functions, queues,
program schedules, scheduled jobs and table."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import METRICS_NAMESPACE, SERVICE_NAME, StageConfig
from infra.functions import LoyaltyFunction
from infra.queues import LoyaltyQueue
from infra.schedules import ProgramSchedules

PERIOD = Duration.minutes(5)
API_P99_LATENCY_MS = 2000
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


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Sequence[LoyaltyFunction],
        queues: Sequence[LoyaltyQueue],
        schedules: ProgramSchedules,
        rest_api: apigw.RestApi,
        table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarm_topic = self._alarm_topic(config)
        self._action = cloudwatch_actions.SnsAction(self.alarm_topic)
        self.alarms: list[cloudwatch.Alarm] = []

        for fn in functions:
            name = fn.spec.name
            self._alarm(
                f"{name}Errors",
                fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                f"{name} function: invocations ended in an error",
            )
            self._alarm(
                f"{name}Throttles",
                fn.function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"{name} function: invocations were throttled",
            )
            if fn.dead_letter_queue is not None:  # queue-triggered functions: see the queue's alarms
                self._alarm(
                    f"{name}DeadLetters",
                    fn.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=Duration.minutes(1), statistic="Maximum"
                    ),
                    f"{name} function: failed asynchronous invocations are waiting in its dead-letter queue",
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    threshold=0,
                )
        for queue in queues:
            name = queue.spec.name
            self._alarm(
                f"{name}QueueDeadLetters",
                queue.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                f"{name} queue: messages failed {queue.spec.max_receive_count} times and wait in its "
                "dead-letter queue",
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                threshold=0,
            )
            self._alarm(
                f"{name}QueueOldestMessage",
                queue.queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                f"{name} queue: a message has waited more than {QUEUE_OLDEST_MESSAGE_AGE.to_human_string()}",
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                threshold=QUEUE_OLDEST_MESSAGE_AGE.to_seconds(),
            )
        name = schedules.spec.name
        self._alarm(
            f"{name}ScheduleDeadLetters",
            schedules.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            f"{name} schedules: invocations of the scheduled jobs that failed "
            f"{schedules.spec.retry_attempts} retries (or were older than "
            f"{Duration.seconds(schedules.spec.max_event_age_s).to_human_string()}) wait in their dead-letter queue",
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            threshold=0,
        )
        # Failed invocations that could not be put in the dead-letter queue either: lost otherwise.
        self._alarm(
            f"{name}ScheduleDeadLettersLost",
            scheduler_metric(schedules, "InvocationsFailedToBeSentToDeadLetterCount"),
            f"{name} schedules: failed invocations of the scheduled jobs could not be sent to their "
            "dead-letter queue (and are lost)",
        )
        self._alarm(
            BALANCE_DRIFT_METRIC,
            custom_metric(BALANCE_DRIFT_METRIC, statistic="Sum"),
            "Reconciliation found members whose balance is not the sum of their ledger",
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            threshold=0,
        )
        self._alarm(
            "Api5xx",
            rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            "API: requests answered with a 5XX",
        )
        self._alarm(
            "ApiLatencyP99",
            rest_api.metric_latency(period=PERIOD, statistic="p99"),
            f"API: p99 latency above {API_P99_LATENCY_MS} ms for 15 minutes",
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            threshold=API_P99_LATENCY_MS,
            evaluation_periods=3,
        )
        self.dashboard = self._dashboard(config, functions, queues, schedules, rest_api, table)

    def _alarm_topic(self, config: StageConfig) -> sns.Topic:
        # A customer-managed key: CloudWatch cannot publish to a topic encrypted with the
        # AWS-managed aws/sns key, whose key policy cannot be changed to let it in.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the loyalty engine ({config.stage}) alarm topic",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[cloudwatch_principal],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"Loyalty engine ({config.stage}) alarms",
            master_key=key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisAccountsCloudWatchAlarms",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    },
                },
            )
        )
        return topic

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            alarm_description=description,
            comparison_operator=comparison,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def _dashboard(
        self,
        config: StageConfig,
        functions: Sequence[LoyaltyFunction],
        queues: Sequence[LoyaltyQueue],
        schedules: ProgramSchedules,
        rest_api: apigw.RestApi,
        table: dynamodb.ITable,
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"LoyaltyEngine-{config.stage}")
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
                        queue.queue.metric_approximate_age_of_oldest_message(
                            period=PERIOD, statistic="Maximum"
                        )
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
        operations = [
            dynamodb.Operation.GET_ITEM,
            dynamodb.Operation.BATCH_GET_ITEM,
            dynamodb.Operation.QUERY,
            dynamodb.Operation.PUT_ITEM,
            dynamodb.Operation.UPDATE_ITEM,
            dynamodb.Operation.DELETE_ITEM,
            dynamodb.Operation.BATCH_WRITE_ITEM,
            dynamodb.Operation.TRANSACT_WRITE_ITEMS,
        ]
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
        return dashboard
