"""The shapes of the wiring list (`loyalty_engine.wiring`): routes, buckets, queues, triggers,
grants, schedules and functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from loyalty_engine.wiring_routes import ApiRoute as ApiRoute  # the routes' shape, with the routes

# "use_keys": GetItem, and UpdateItem of a key's last-use marks alone, only in a group's own
# partition (`G#<group>`, where its API keys are): the authorizer's access, which may not query or
# scan the table nor write anything else (infra/functions.py).
# "stream": no table action (the table's stream comes through the event source mapping).
TableAccess = Literal["read", "read_write", "use_keys", "stream"]


@dataclass(frozen=True)
class Bucket:
    name: str  # logical name: the CDK construct id, and the local stack's bucket name suffix
    env: str  # environment variable that carries the bucket's real name to the functions using it


@dataclass(frozen=True)
class S3Notification:
    """Object-created events of `bucket` under `prefix` are sent to the queue."""

    bucket: str  # Bucket.name
    prefix: str


@dataclass(frozen=True)
class BusRule:
    """Every event of `source` on the stage's domain event bus is sent to the queue (an
    EventBridge rule with the queue as its target; infra/domain_events.py)."""

    source: str  # the events' `source` (loyalty_engine.events.models.SOURCE)


@dataclass(frozen=True)
class Queue:
    name: str  # logical name; each queue gets a dead-letter queue after `max_receive_count` receives
    env: str  # environment variable that carries the queue's URL to the functions sending to it
    visibility_timeout_s: int
    delivery_delay_s: int = 0
    max_receive_count: int = 5
    source: S3Notification | BusRule | None = None
    # Set: the functions sending to the queue may also send to its dead-letter queue, whose URL
    # this variable carries (a worker that gives a message up itself, e.g. after its own retries).
    dead_letter_env: str | None = None


@dataclass(frozen=True)
class QueueTrigger:
    """The function consumes the queue in batches and reports partial batch failures.

    `max_concurrency` caps the concurrent invocations the queue's event source makes (SQS
    `ScalingConfig.MaximumConcurrency`, 2..1000): the function never holds more of the
    account's concurrency than that, so a burst of messages cannot take the API's, and
    unlike reserved concurrency nothing is throttled (messages simply wait in the queue,
    without counting receives towards the dead-letter queue) and nothing is set aside.
    """

    queue: str  # Queue.name
    batch_size: int = 10
    max_concurrency: int | None = None


@dataclass(frozen=True)
class StreamTrigger:  # the table's stream; partial batch failures, bisect, then the on-failure queue
    batch_size: int = 100
    max_batching_window_s: int = 1
    retry_attempts: int = 10
    max_record_age_s: int = 24 * 3600  # the stream keeps records for 24 hours


@dataclass(frozen=True)
class BucketGrant:
    """What a function may do in a bucket, by key prefix (least privilege)."""

    bucket: str  # Bucket.name
    read: tuple[str, ...] = ()  # GetObject
    write: tuple[str, ...] = ()  # PutObject
    delete: tuple[str, ...] = ()  # DeleteObject
    list: tuple[str, ...] = ()  # ListBucket, conditioned on these prefixes


@dataclass(frozen=True)
class ProgramSchedules:
    """Per-program EventBridge Scheduler schedules (tier runs, points jobs), in one schedule group.

    The functions that manage them get the group's name, the role Scheduler assumes to invoke
    the target, and the target function's ARN through these environment variables.
    """

    name: str  # logical name: the CDK construct id, and the local stack's schedule group suffix
    group_env: str
    role_env: str
    target_env: str
    dead_letter_env: str  # the queue where Scheduler puts invocations that failed all retries
    retry_attempts: int = 10  # Scheduler's retries of a failed invocation, then its dead-letter queue
    max_event_age_s: int = 6 * 3600


@dataclass(frozen=True)
class Function:
    name: str  # logical name, also the Lambda's id in CDK
    handler: str  # dotted path "module.attribute" under functions/
    description: str
    table_access: TableAccess
    # The function's settings model in `loyalty_engine.kernel.settings`: what it reads from its
    # environment. The infra tests check that the deployed environment satisfies it.
    settings: str = "Settings"
    routes: tuple[ApiRoute, ...] = ()
    is_authorizer: bool = False
    indexes: tuple[str, ...] = ()  # names of the table's GSIs the function queries (grants Query on them)
    memory_mb: int = 512
    timeout_s: int = 10
    environment: dict[str, str] = field(default_factory=dict)
    queue_trigger: QueueTrigger | None = None
    stream_trigger: StreamTrigger | None = None
    buckets: tuple[BucketGrant, ...] = ()
    sends_to: tuple[str, ...] = ()  # Queue.name of each queue the function sends messages to
    schedule_target: bool = False  # EventBridge Scheduler invokes it with the program schedules' input
    # Reserved concurrency: at most this many concurrent invocations (and as many set aside for
    # it). For the workers that no queue feeds; asynchronous invocations it throttles are retried
    # by Lambda (for up to 6 hours), not lost.
    reserved_concurrency: int | None = None
    manages_schedules: bool = False  # creates/updates/deletes the program schedules (see PROGRAM_SCHEDULES)
    # Brings every program's schedules in line with the table, and deletes the group's other
    # schedules (it may list them): CDK runs it after every deploy as a custom resource, the local
    # stack when it starts. It must manage the schedules too.
    syncs_schedules: bool = False
