"""One SQS queue (and its dead-letter queue) per `loyalty_engine.wiring.QUEUES` entry.

A queue whose wiring `source` is an `S3Notification` receives the bucket's object-created
events under that prefix. Who consumes a queue (an event source mapping) and who may send
to it is decided per function, in `infra.functions`.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.buckets import Buckets
from infra.config import DEAD_LETTER_RETENTION, QUEUE_RETENTION, StageConfig
from loyalty_engine import wiring


def queue_spec(name: str) -> wiring.Queue:
    """The wiring queue called `name` (an unknown name is an error)."""
    for queue in wiring.QUEUES:
        if queue.name == name:
            return queue
    raise ValueError(f"wiring: no queue named {name!r} in wiring.QUEUES")


def dead_letter_queue(scope: Construct, config: StageConfig) -> sqs.Queue:
    """A dead-letter queue (encrypted, SSL only, kept 14 days): a queue's, or a function's."""
    return sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        removal_policy=config.removal_policy,
    )


class LoyaltyQueue(Construct):
    """A wiring queue: SQS-managed SSE, SSL only, messages moved to its dead-letter queue
    after `max_receive_count` receives."""

    def __init__(self, scope: Construct, spec: wiring.Queue, *, config: StageConfig) -> None:
        super().__init__(scope, spec.name)
        self.spec = spec
        self.dead_letter_queue = dead_letter_queue(self, config)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            delivery_delay=Duration.seconds(spec.delivery_delay_s),
            retention_period=QUEUE_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=spec.max_receive_count
            ),
            removal_policy=config.removal_policy,
        )


def build_queues(scope: Construct, *, config: StageConfig, buckets: Buckets) -> dict[str, LoyaltyQueue]:
    names = [queue.name for queue in wiring.QUEUES]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"wiring.QUEUES: duplicate queue names {duplicates}")
    container = Construct(scope, "Queues")
    queues: dict[str, LoyaltyQueue] = {}
    for spec in wiring.QUEUES:
        queues[spec.name] = LoyaltyQueue(container, spec, config=config)
        if isinstance(spec.source, wiring.S3Notification):
            buckets.notify_queue(spec.source, queues[spec.name].queue)
    return queues
