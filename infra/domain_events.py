"""Domain events: the table's stream -> the EventsPublisher function -> the stage's custom bus.

- `DomainEventBus`: the custom EventBridge bus `loyalty-engine-<stage>`, which consumers
  subscribe to with rules (docs/events.md shows one, and a bus policy for another account).
- The publisher's event source mapping on the table's stream (NEW_AND_OLD_IMAGES): partial
  batch failures reported, a failing batch bisected, retries and record age bounded, then the
  record's description sent to the function's dead-letter queue (its on-failure destination,
  alarmed on like every dead-letter queue).
- Least privilege: events:PutEvents on this bus only; the stream read on this table's streams
  only (no dynamodb:ListStreams on "*").
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.config import StageConfig
from infra.functions import LoyaltyFunction
from loyalty_engine.events.models import BUS_ENV, bus_name

BUS_ID = "DomainEventBus"
STREAM_ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)


class DomainEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        table: dynamodb.Table,
        publisher: LoyaltyFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        trigger = publisher.spec.stream_trigger
        if trigger is None or publisher.dead_letter_queue is None:
            raise ValueError(f"wiring function {publisher.spec.name} has no stream trigger to publish from")
        if table.table_stream_arn is None:
            raise ValueError("the table has no stream (infra/table.py)")
        self.bus = events.EventBus(self, BUS_ID, event_bus_name=bus_name(config.stage))
        self.publisher = publisher
        self.on_failure = publisher.dead_letter_queue
        publisher.function.add_environment(BUS_ENV, self.bus.event_bus_name)
        self.bus.grant_put_events_to(publisher.role)  # events:PutEvents on this bus only
        publisher.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(STREAM_ACTIONS), resources=[table.table_stream_arn])
        )
        self.mapping = lambda_.EventSourceMapping(
            self,
            "TableStream",
            target=publisher.function,
            event_source_arn=table.table_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=trigger.batch_size,
            max_batching_window=Duration.seconds(trigger.max_batching_window_s),
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            retry_attempts=trigger.retry_attempts,
            max_record_age=Duration.seconds(trigger.max_record_age_s),
            on_failure=event_sources.SqsDlq(self.on_failure),  # grants sqs:SendMessage on it
        )
        self.mapping.node.add_dependency(publisher.role)  # and so its policy: the stream read
