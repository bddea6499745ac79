"""The LoyaltyEngine-<stage> stack: table, buckets, queues, program schedules, dependency layer, functions,
API, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.api import LoyaltyApi
from infra.buckets import Buckets, bucket_spec
from infra.config import StageConfig
from infra.functions import build_functions
from infra.layer import build_dependency_layer
from infra.monitoring import Monitoring
from infra.nag import add_nag_acknowledgments
from infra.queues import build_queues
from infra.schedule_sync import DEPLOY_ID_CONTEXT, ScheduleSync, sync_spec
from infra.schedules import build_schedules
from infra.table import build_table


class LoyaltyEngineStack(Stack):
    def __init__(self, scope: Construct, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            config.stack_name,
            description=f"Serverless loyalty engine ({config.stage}): points ledger, tiers, rewards",
            **kwargs,
        )
        self.config = config
        self.table = build_table(self, config)
        self.buckets = Buckets(self, "Buckets", config=config)
        self.queues = build_queues(self, config=config, buckets=self.buckets)
        # The schedule group, Scheduler's role and dead-letter queue; the functions attach the
        # target and get the managers' grants and environment.
        self.schedules = build_schedules(self, config=config)
        self.layer = build_dependency_layer(self)
        self.functions = build_functions(
            self,
            config=config,
            table=self.table,
            layer=self.layer,
            buckets=self.buckets.buckets,
            queues={name: queue.queue for name, queue in self.queues.items()},
            schedules=self.schedules,
        )
        self.schedule_sync = ScheduleSync(
            self,
            "ScheduleSync",
            function=self.functions[sync_spec().name],
            schedules=self.schedules,
            deploy_id=str(self.node.try_get_context(DEPLOY_ID_CONTEXT) or "") or None,
        )
        self.api = LoyaltyApi(
            self,
            "Api",
            config=config,
            functions={name: fn.function for name, fn in self.functions.items()},
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=list(self.functions.values()),
            queues=list(self.queues.values()),
            schedules=self.schedules,
            rest_api=self.api.rest_api,
            table=self.table,
        )

        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the REST API (stage api)")
        CfnOutput(self, "TableName", value=self.table.table_name, description="The DynamoDB table")
        for name, bucket in self.buckets.buckets.items():
            CfnOutput(
                self,
                f"{name}BucketName",
                value=bucket.bucket_name,
                description=f"The {name} S3 bucket (the functions get its name in {bucket_spec(name).env})",
            )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.monitoring.alarm_topic.topic_arn,
            description="Subscribe on-call here: every alarm and its recovery is published to this topic",
        )
        add_nag_acknowledgments(
            self,
            functions=self.functions,
            buckets=self.buckets.buckets,
            schedules=self.schedules,
            rest_api=self.api.rest_api,
        )
