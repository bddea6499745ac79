"""The wiring's resources on the local AWS, made as CDK declares them, and deleted again.

All from the wiring: the table (`loyalty_engine.kernel.table`), one bucket per
`wiring.BUCKETS`, one queue and its dead-letter queue per `wiring.QUEUES`, the bucket
notifications of the queues fed by S3, and the EventBridge Scheduler schedule group of
`wiring.PROGRAM_SCHEDULES` with its dead-letter queue. moto stores schedules but never
fires them: `schedules.py` does, on the stack's clock. The role Scheduler assumes and the
target's ARN are names only (moto runs no Lambda and checks no role). The table has its
stream, and the domain events' bus is `loyalty-engine-local` (`streams.py` feeds the publisher).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from local_stack.aws import (
    ACCOUNT_ID,
    REGION,
    RESOURCE_PREFIX,
    bucket_name,
    client,
    error_code,
    function_arn,
    queue_name,
    schedule_group_name,
    schedule_target,
)
from loyalty_engine.events.models import BUS_ENV, bus_name
from loyalty_engine.kernel.table import create_table_params, enable_ttl_params
from loyalty_engine.wiring import (
    BUCKETS,
    FUNCTIONS,
    PROGRAM_SCHEDULES,
    QUEUES,
    Bucket,
    BusRule,
    Function,
    ProgramSchedules,
    Queue,
)

DLQ_RETENTION_S = 14 * 24 * 3600  # SQS's maximum: time to look at what failed


@dataclass(frozen=True)
class LocalSchedules:
    """The program schedules' group and what the functions managing them are told."""

    spec: ProgramSchedules
    group_name: str
    group_arn: str
    role_arn: str  # a name only: moto checks no role
    target: Function  # the wiring's schedule target
    target_arn: str  # a fake Lambda ARN naming it (`function_arn`)
    dlq_url: str
    dlq_arn: str

    def environment(self) -> dict[str, str]:
        return {
            self.spec.group_env: self.group_name,
            self.spec.role_env: self.role_arn,
            self.spec.target_env: self.target_arn,
            self.spec.dead_letter_env: self.dlq_arn,
        }


@dataclass(frozen=True)
class LocalQueue:
    spec: Queue
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str
    delivery_delay_s: int  # the wiring's, unless the stack was started with another one


@dataclass
class Resources:
    """What `create_resources` made, by wiring name."""

    table_name: str
    buckets: dict[str, str] = field(default_factory=dict)  # Bucket.name -> local bucket name
    queues: dict[str, LocalQueue] = field(default_factory=dict)  # Queue.name -> the queue
    schedules: LocalSchedules | None = None
    stream_arn: str | None = None  # the table's stream (domain events)
    event_bus_name: str | None = None  # the domain events' bus

    def environment(
        self, buckets: Sequence[Bucket] = BUCKETS, queues: Sequence[Queue] = QUEUES
    ) -> dict[str, str]:
        """`Bucket.env` = the bucket's name and `Queue.env` = the queue's URL, as CDK sets them,
        and the program schedules' group, role, target and dead-letter queue ARN."""
        env = {bucket.env: self.buckets[bucket.name] for bucket in buckets if bucket.name in self.buckets}
        env.update({queue.env: self.queues[queue.name].url for queue in queues if queue.name in self.queues})
        env.update(
            {
                queue.dead_letter_env: self.queues[queue.name].dlq_url
                for queue in queues
                if queue.dead_letter_env and queue.name in self.queues
            }
        )
        if self.schedules is not None:
            env.update(self.schedules.environment())
        if self.event_bus_name is not None:
            env[BUS_ENV] = self.event_bus_name
        return env


def create_resources(
    endpoint_url: str,
    table_name: str,
    *,
    buckets: Sequence[Bucket] = BUCKETS,
    queues: Sequence[Queue] = QUEUES,
    delivery_delay_s: int | None = 0,
    schedules: ProgramSchedules | None = PROGRAM_SCHEDULES,
    functions: Sequence[Function] = FUNCTIONS,
) -> Resources:
    """The table, buckets, queues, bucket notifications and schedule group, as CDK declares them.

    `delivery_delay_s` replaces every queue's `DelaySeconds` (0: messages are delivered
    at once, for fast demos and tests); None keeps the wiring's delays, as deployed.
    Whatever an earlier stack of this process left behind is replaced (moto's state is
    per process), so every stack starts empty.
    """
    dynamodb = client("dynamodb", endpoint_url)
    try:
        dynamodb.create_table(**create_table_params(table_name))
    except ClientError as error:
        if error_code(error) != "ResourceInUseException":
            raise
        dynamodb.delete_table(TableName=table_name)
        dynamodb.create_table(**create_table_params(table_name))
    dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1})
    dynamodb.update_time_to_live(**enable_ttl_params(table_name))

    resources = Resources(table_name)
    resources.stream_arn = dynamodb.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")
    if any(function.stream_trigger is not None for function in functions):
        resources.event_bus_name = _create_event_bus(client("events", endpoint_url))
    s3 = client("s3", endpoint_url)
    for bucket in buckets:
        name = bucket_name(bucket)
        _delete_bucket(s3, name)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        # Versioned, as deployed (infra/buckets.py): a re-upload of a name is a new version.
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        resources.buckets[bucket.name] = name

    sqs = client("sqs", endpoint_url)
    for queue in queues:
        delay = queue.delivery_delay_s if delivery_delay_s is None else delivery_delay_s
        dlq_url, dlq_arn = _create_queue(
            sqs, queue_name(queue, dead_letter=True), {"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
        )
        attributes = {
            "VisibilityTimeout": str(queue.visibility_timeout_s),
            "DelaySeconds": str(delay),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
            ),
        }
        url, arn = _create_queue(sqs, queue_name(queue), attributes)
        resources.queues[queue.name] = LocalQueue(queue, url, arn, dlq_url, dlq_arn, delay)

    # One notification configuration per bucket (a put replaces the bucket's whole configuration).
    notified: dict[str, list[dict[str, Any]]] = {}
    for queue in queues:
        if isinstance(queue.source, BusRule):
            if resources.event_bus_name is not None:
                _add_bus_rule(endpoint_url, resources.event_bus_name, queue, resources.queues[queue.name])
            continue
        if queue.source is None:
            continue
        local = resources.queues[queue.name]
        if queue.source.bucket not in resources.buckets:
            raise ValueError(f"queue {queue.name} is fed by bucket {queue.source.bucket}, not in the wiring")
        target = resources.buckets[queue.source.bucket]
        # As CDK's S3 -> SQS notification does: S3 may send to the queue, from this bucket only.
        sqs.set_queue_attributes(
            QueueUrl=local.url, Attributes={"Policy": _s3_send_policy(local.arn, target)}
        )
        notified.setdefault(target, []).append(
            {
                "Id": f"{queue.name}-{queue.source.prefix}".replace("/", "-").strip("-"),
                "QueueArn": local.arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": queue.source.prefix}]}},
            }
        )
    for name, configurations in notified.items():
        # S3 sends an s3:TestEvent to each queue configured: the consumers see it first.
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": configurations}
        )
    if schedules is not None:
        resources.schedules = _create_schedules(endpoint_url, sqs, schedules, schedule_target(functions))
    return resources


def _create_schedules(
    endpoint_url: str, sqs: Any, spec: ProgramSchedules, target: Function
) -> LocalSchedules:
    """The schedule group (emptied if an earlier stack left it) and its dead-letter queue."""
    scheduler = client("scheduler", endpoint_url)
    name = schedule_group_name(spec)
    _delete_schedule_group(scheduler, name)
    arn = scheduler.create_schedule_group(Name=name)["ScheduleGroupArn"]
    dlq_url, dlq_arn = _create_queue(
        sqs,
        f"{RESOURCE_PREFIX}-{spec.name.lower()}-schedules-dlq-local",
        {"MessageRetentionPeriod": str(DLQ_RETENTION_S)},
    )
    return LocalSchedules(
        spec=spec,
        group_name=name,
        group_arn=str(arn),
        role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{RESOURCE_PREFIX}-{spec.name.lower()}-scheduler-local",
        target=target,
        target_arn=function_arn(target),
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
    )


def _delete_schedule_group(scheduler: Any, name: str) -> None:
    """Delete the group and its schedules, if it exists (moto fails on a missing group: look first)."""
    try:
        scheduler.get_schedule_group(Name=name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return
    scheduler.delete_schedule_group(Name=name)


def _create_event_bus(events: Any) -> str:
    """The domain events' bus, as `infra/domain_events.py` declares it (`loyalty-engine-local`)."""
    name = bus_name("local")
    try:
        events.create_event_bus(Name=name)
    except ClientError as error:
        if error_code(error) != "ResourceAlreadyExistsException":
            raise
    return name


def _add_bus_rule(endpoint_url: str, bus: str, queue: Queue, local: LocalQueue) -> None:
    """The bus's rule sending every event of the queue's source to it, as infra/domain_events.py
    declares it (moto's EventBridge delivers to SQS targets)."""
    assert isinstance(queue.source, BusRule)
    events = client("events", endpoint_url)
    name = f"{RESOURCE_PREFIX}-{queue.name.lower()}-local"
    events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps({"source": [queue.source.source]}),
        State="ENABLED",
    )
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": queue.name, "Arn": local.arn}])


def _create_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    try:
        stale = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error_code(error) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
    else:
        sqs.delete_queue(QueueUrl=stale)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def _s3_send_policy(queue_arn: str, bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
                    },
                }
            ],
        }
    )


def _delete_bucket(s3: Any, name: str) -> None:
    """Empty (every version and delete marker) and delete the bucket, if it exists."""
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=name))
    except ClientError as error:
        if error_code(error) != "NoSuchBucket":
            raise
        return
    for page in pages:
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        objects = [{"Key": entry["Key"], "VersionId": entry["VersionId"]} for entry in entries]
        for start in range(0, len(objects), 1000):
            s3.delete_objects(Bucket=name, Delete={"Objects": objects[start : start + 1000], "Quiet": True})
    s3.delete_bucket(Bucket=name)


def delete_resources(endpoint_url: str, resources: Resources) -> None:
    """Free moto's memory: its state outlives the server in this process."""
    s3 = client("s3", endpoint_url)
    for name in resources.buckets.values():
        _delete_bucket(s3, name)
    sqs = client("sqs", endpoint_url)
    urls = [url for queue in resources.queues.values() for url in (queue.url, queue.dlq_url)]
    if resources.schedules is not None:
        _delete_schedule_group(client("scheduler", endpoint_url), resources.schedules.group_name)
        urls.append(resources.schedules.dlq_url)
    for url in urls:
        try:
            sqs.delete_queue(QueueUrl=url)
        except ClientError as error:
            if error_code(error) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                raise
    if resources.event_bus_name is not None:
        events = client("events", endpoint_url)
        for rule in events.list_rules(EventBusName=resources.event_bus_name).get("Rules", []):
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=resources.event_bus_name)
            ids = [target["Id"] for target in targets.get("Targets", [])]
            if ids:
                events.remove_targets(Rule=rule["Name"], EventBusName=resources.event_bus_name, Ids=ids)
            events.delete_rule(Name=rule["Name"], EventBusName=resources.event_bus_name)
        events.delete_event_bus(Name=resources.event_bus_name)
    dynamodb = client("dynamodb", endpoint_url)
    try:
        dynamodb.delete_table(TableName=resources.table_name)
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
