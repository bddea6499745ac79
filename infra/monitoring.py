"""Alarms (to an encrypted SNS topic) for the API, functions, queues, program schedules,
scheduled jobs and the table; the dashboard is `infra.dashboard`."""

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

from infra.config import StageConfig
from infra.dashboard import build_dashboard
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

API_P99_LATENCY_MS = 2000
# Throttled table requests are retried by the SDK; throttling for this many consecutive
# PERIODs is no burst any more (a hot partition, or an index that cannot keep up).
THROTTLE_PERIODS = 2
# A function with reserved concurrency throttles by design when a burst exceeds it (its
# asynchronous invocations are retried): only this many consecutive PERIODs of it alarm.
RESERVED_THROTTLE_PERIODS = 3


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
            if fn.spec.reserved_concurrency is None:
                self._alarm(
                    f"{name}Throttles",
                    fn.function.metric_throttles(period=PERIOD, statistic="Sum"),
                    f"{name} function: invocations were throttled",
                )
            else:
                self._alarm(
                    f"{name}Throttles",
                    fn.function.metric_throttles(period=PERIOD, statistic="Sum"),
                    f"{name} function: invocations were throttled for "
                    f"{PERIOD.to_minutes() * RESERVED_THROTTLE_PERIODS} minutes: its reserved concurrency "
                    f"({fn.spec.reserved_concurrency}) is too small for the load",
                    evaluation_periods=RESERVED_THROTTLE_PERIODS,
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
        self._table_alarms(table)
        self.dashboard = build_dashboard(self, config, functions, queues, schedules, rest_api, table)

    def _table_alarms(self, table: dynamodb.ITable) -> None:
        """Throttling of the table and of each index (an index that cannot keep up throttles the
        table's writes too), and DynamoDB's own errors (HTTP 500)."""
        sustained = f"for {PERIOD.to_minutes() * THROTTLE_PERIODS} minutes"
        self._alarm(
            "TableThrottledRequests",
            table.metric_throttled_requests_for_operations(operations=list(TABLE_OPERATIONS), period=PERIOD),
            f"Table: requests throttled {sustained} (hot partition, or above the table's throughput)",
            evaluation_periods=THROTTLE_PERIODS,
        )
        for kind in ("Read", "Write"):
            self._alarm(
                f"Table{kind}Throttles",
                table.metric(f"{kind}ThrottleEvents", period=PERIOD, statistic="Sum"),
                f"Table: {kind.lower()} throttle events {sustained}",
                evaluation_periods=THROTTLE_PERIODS,
            )
            for index in table_shape.GLOBAL_SECONDARY_INDEXES:
                self._alarm(
                    f"{index.name.capitalize()}{kind}Throttles",
                    index_metric(table, index.name, f"{kind}ThrottleEvents"),
                    f"Index {index.name}: {kind.lower()} throttle events {sustained}"
                    + (" (the table's writes are throttled with it)" if kind == "Write" else ""),
                    evaluation_periods=THROTTLE_PERIODS,
                )
        self._alarm(
            "TableSystemErrors",
            table.metric_system_errors_for_operations(operations=list(TABLE_OPERATIONS), period=PERIOD),
            "Table: DynamoDB answered requests with a system error (HTTP 500)",
        )

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
