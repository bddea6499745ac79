"""Webhooks in CDK: the domain bus's rule feeding the dispatcher's queue, and the delivery
worker's own grant on its queue's dead-letter queue.

- A wiring queue whose `source` is a `BusRule` gets an EventBridge rule on the stage's domain
  bus matching that `source`, with the queue as target (CDK adds the queue policy letting this
  rule, and only it, send). Events EventBridge cannot put on the queue go to the queue's own
  dead-letter queue (the target's dead-letter config), after its retries.
- A wiring queue with a `dead_letter_env` hands its dead-letter queue's URL to its own worker
  (the function it triggers that also sends to it), and lets it send there (sqs:SendMessage on that queue only): the delivery
  worker gives up an event itself after 24 hours of retries.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.functions import LoyaltyFunction
from infra.queues import LoyaltyQueue
from loyalty_engine import wiring

SEND_ACTION = "sqs:SendMessage"
TARGET_RETRY_ATTEMPTS = 185  # EventBridge's maximum: a throttled queue is retried for 24 h
TARGET_MAX_EVENT_AGE = Duration.hours(24)


class BusQueues(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        queues: Mapping[str, LoyaltyQueue],
        functions: Mapping[str, LoyaltyFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.rules: dict[str, events.Rule] = {}
        for spec in wiring.QUEUES:
            queue = queues[spec.name]
            if isinstance(spec.source, wiring.BusRule):
                self.rules[spec.name] = events.Rule(
                    self,
                    f"{spec.name}Rule",
                    event_bus=bus,
                    description=f"Every {spec.source.source} domain event to the {spec.name} queue",
                    event_pattern=events.EventPattern(source=[spec.source.source]),
                    targets=[
                        targets.SqsQueue(
                            queue.queue,
                            dead_letter_queue=queue.dead_letter_queue,
                            retry_attempts=TARGET_RETRY_ATTEMPTS,
                            max_event_age=TARGET_MAX_EVENT_AGE,
                        )
                    ],
                )
            if spec.dead_letter_env is None:
                continue
            for function in functions.values():
                trigger = function.spec.queue_trigger
                # the queue's own worker (which re-sends to it), not every function sending to it
                if trigger is None or trigger.queue != spec.name or spec.name not in function.spec.sends_to:
                    continue
                function.function.add_environment(spec.dead_letter_env, queue.dead_letter_queue.queue_url)
                function.role.add_to_principal_policy(
                    iam.PolicyStatement(actions=[SEND_ACTION], resources=[queue.dead_letter_queue.queue_arn])
                )
