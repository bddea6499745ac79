"""The LoyaltyEngine-<stage> stack: table, buckets, queues, program schedules, dependency layer, functions,
API, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import outputs
from infra.api import LoyaltyApi, authorizer_spec
from infra.buckets import Buckets, bucket_spec
from infra.config import StageConfig
from infra.domain_events import DomainEvents
from infra.functions import build_functions
from infra.layer import build_dependency_layer
from infra.monitoring import Monitoring
from infra.nag import add_nag_acknowledgments
from infra.partners import PARTNERS_CONTEXT, PartnerUploads, partners_from_context
from infra.queues import build_queues
from infra.schedule_sync import DEPLOY_ID_CONTEXT, ScheduleSync, sync_spec
from infra.schedules import build_schedules
from infra.table import build_table
from infra.webhooks import BusQueues
from loyalty_engine import wiring


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
        # Partners on the AWS CLI: their principals may put their group's files and get its reports.
        self.partner_uploads = PartnerUploads(
            self,
            "PartnerUploads",
            bucket=self.buckets.buckets[wiring.IMPORT_BUCKET.name],
            partners=partners_from_context(self.node.try_get_context(PARTNERS_CONTEXT)),
        )
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
        # The domain events: the table's stream -> the publisher -> the stage's bus.
        self.domain_events = DomainEvents(
            self,
            "DomainEvents",
            config=config,
            table=self.table,
            publisher=self.functions[wiring.EVENTS_PUBLISHER.name],
        )
        # Webhooks: the bus's rule feeding the dispatcher's queue, the delivery worker's dead letters.
        self.bus_queues = BusQueues(
            self, "BusQueues", bus=self.domain_events.bus, queues=self.queues, functions=self.functions
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
        # The usage identifier of callers whose group has no usage key of its own (docs/quotas.md).
        self.functions[authorizer_spec().name].function.add_environment(
            "DEFAULT_USAGE_KEY", self.api.default_usage_key
        )
        if config.swagger_ui:  # GET /v1/docs (non-production stages only)
            self.functions[wiring.API.name].function.add_environment("SWAGGER_UI", "true")
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

        self._outputs()
        add_nag_acknowledgments(
            self,
            functions=self.functions,
            buckets=self.buckets.buckets,
            schedules=self.schedules,
            rest_api=self.api.rest_api,
            docs_method=self.api.docs_method,
        )

    def _outputs(self) -> None:
        """What operators, partners' onboarding and the smoke tests read (names: infra/outputs.py)."""
        api_url = "Base URL of the REST API (stage api)"
        CfnOutput(self, outputs.API_URL, value=self.api.url, description=api_url)
        CfnOutput(self, outputs.TABLE_NAME, value=self.table.table_name, description="The DynamoDB table")
        for name, bucket in self.buckets.buckets.items():
            CfnOutput(
                self,
                outputs.bucket_output(name),
                value=bucket.bucket_name,
                description=f"The {name} S3 bucket (the functions get its name in {bucket_spec(name).env})",
            )
        CfnOutput(
            self,
            outputs.ALARM_TOPIC_ARN,
            value=self.monitoring.alarm_topic.topic_arn,
            description="Subscribe on-call here: every alarm and its recovery is published to this topic",
        )
        # The program schedules' settings, as the functions managing them get them: for
        # `loyalty-admin sync-schedules` and the operators' job runs against the stage.
        CfnOutput(
            self,
            outputs.SCHEDULE_SYNC_FUNCTION,
            value=self.schedule_sync.function.function_name,
            description="Invoke it to bring every program's schedules in line with the table (it runs after every deploy)",
        )
        # The usage plans, for `loyalty-admin quotas set` on the stage (outputs.usage_plan_outputs).
        CfnOutput(
            self, outputs.REST_API_ID, value=self.api.rest_api.rest_api_id, description="The REST API's id"
        )
        CfnOutput(
            self,
            outputs.DEFAULT_USAGE_PLAN_ID,
            value=self.api.default_plan.usage_plan_id,
            description="The usage plan of the groups without limits of their own",
        )
        CfnOutput(
            self, outputs.STAGE_NAME, value=self.config.stage, description="The stage (in usage plan names)"
        )
        environment = self.schedules.environment()
        for variable, output in outputs.schedule_outputs(self.schedules.spec).items():
            CfnOutput(
                self, output, value=environment[variable], description=f"The program schedules' {variable}"
            )
