"""One S3 bucket per `loyalty_engine.wiring.BUCKETS` entry, with its server access logs.

Every bucket is private (public access blocked, bucket-owner-enforced ownership, SSL and
TLS 1.2+ only), encrypted with S3-managed keys, versioned, and cleaned up by lifecycle rules
(`infra.config.OBJECT_EXPIRATION`, per bucket and prefix). Server access logs go to one
access-log bucket per stack.

Object-created notifications to a queue (a wiring queue's `S3Notification` source) are
applied by CDK's `Custom::S3BucketNotifications` resource, whose handler function gets a
role of ours: it may change the notifications of the wiring buckets and write to its own
log group, and nothing else (no AWSLambdaBasicExecutionRole).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from infra.config import (
    ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
    NONCURRENT_VERSION_EXPIRATION,
    OBJECT_EXPIRATION,
    StageConfig,
)
from infra.depends_on import drop_redundant_dependencies
from loyalty_engine import wiring

# CDK's feature flag for server access logs: let the logging service in with a bucket policy
# (conditioned on the source bucket and account) instead of the legacy LogDeliveryWrite ACL,
# so that every bucket keeps ACLs disabled. Set on this construct only, before its children.
SERVER_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
# The ids under which CDK creates the (one per stack) handlers of its S3 custom resources.
NOTIFICATIONS_HANDLER_ID_PREFIX = "BucketNotificationsHandler"
AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"


def bucket_spec(name: str) -> wiring.Bucket:
    """The wiring bucket called `name` (an unknown name is an error)."""
    for bucket in wiring.BUCKETS:
        if bucket.name == name:
            return bucket
    raise ValueError(f"wiring: no bucket named {name!r} in wiring.BUCKETS")


def object_expiration(name: str) -> tuple[tuple[str, Duration], ...]:
    """(prefix, after) of the wiring bucket called `name`: its objects that expire (`infra.config`)."""
    bucket_spec(name)
    unknown = sorted(set(OBJECT_EXPIRATION) - {bucket.name for bucket in wiring.BUCKETS})
    if unknown:
        raise ValueError(f"infra.config.OBJECT_EXPIRATION names buckets {unknown}, not in wiring.BUCKETS")
    rules = OBJECT_EXPIRATION.get(name, ())
    for prefix, _ in rules:
        if not prefix.endswith("/") or "*" in prefix:
            raise ValueError(f"bucket {name}: expiration prefix {prefix!r} must be a folder ending in '/'")
    return rules


def lifecycle_rules(name: str) -> list[s3.LifecycleRule]:
    """The wiring bucket's rules: housekeeping (versions, uploads) and its prefixes' expiration."""
    return [
        s3.LifecycleRule(
            id="Housekeeping",
            abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
            noncurrent_version_expiration=NONCURRENT_VERSION_EXPIRATION,
            # Removes the delete markers that are left once their noncurrent versions have expired.
            expired_object_delete_marker=True,
        ),
        *(
            s3.LifecycleRule(id=f"Expire-{prefix.strip('/')}", prefix=prefix, expiration=after)
            for prefix, after in object_expiration(name)
        ),
    ]


def _private_bucket(scope: Construct, construct_id: str, config: StageConfig, **props: Any) -> s3.Bucket:
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        encryption=s3.BucketEncryption.S3_MANAGED,  # SSE-S3: see Buckets for why not KMS
        enforce_ssl=True,
        minimum_tls_version=1.2,
        removal_policy=config.removal_policy,
        auto_delete_objects=config.auto_delete_objects,
        **props,
    )


class Buckets(Construct):
    """The wiring buckets (`buckets`, by wiring name) and their access-log bucket.

    SSE-S3 rather than SSE-KMS: the files carry what the table already holds (card codes,
    rewards, points, the numbers of pre-issued gift cards and coupons; no payment card or
    login data), so a customer-managed key would add no protection the bucket policy and IAM
    grants do not give, but would add kms:* grants for the functions, for whoever uploads (a
    partner's role, a presigned URL) and for the operators who download exports, key policy
    upkeep and per-request KMS cost. The access-log bucket must be SSE-S3 anyway (server
    access logs cannot be delivered to an SSE-KMS bucket). Move to SSE-KMS with a bucket key
    if the data classification ever requires key-level audit or revocation.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.node.set_context(SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, True)
        names = [bucket.name for bucket in wiring.BUCKETS]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"wiring.BUCKETS: duplicate bucket names {duplicates}")

        self.buckets: dict[str, s3.Bucket] = {}
        self.access_log_bucket: s3.Bucket | None = None
        self.notifications_role: iam.Role | None = None
        self._notifications_log_group: logs.LogGroup | None = None
        self._notified_queues: dict[str, list[CfnResource]] = {}  # bucket name -> queues it notifies
        self._config = config
        if not wiring.BUCKETS:
            return

        self.access_log_bucket = _private_bucket(
            self,
            "AccessLogs",
            config,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=config.access_log_expiration,
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
                )
            ],
        )
        if any(isinstance(queue.source, wiring.S3Notification) for queue in wiring.QUEUES):
            self.notifications_role = iam.Role(
                self,
                "NotificationsHandlerRole",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description="CDK's Custom::S3BucketNotifications handler: sets the wiring buckets' notifications",
            )
        for spec in wiring.BUCKETS:
            self.buckets[spec.name] = _private_bucket(
                self,
                spec.name,
                config,
                versioned=True,
                lifecycle_rules=lifecycle_rules(spec.name),
                server_access_logs_bucket=self.access_log_bucket,
                server_access_logs_prefix=f"{spec.name}/",
                notifications_handler_role=self.notifications_role,
            )
        if config.auto_delete_objects:
            _drop_auto_delete_provider_role_dependency(Stack.of(self))

    def bucket(self, name: str) -> s3.Bucket:
        bucket_spec(name)
        return self.buckets[name]

    def notify_queue(self, source: wiring.S3Notification, queue: sqs.Queue) -> None:
        """Object-created events under `source.prefix` of `source.bucket` go to `queue`."""
        if not source.prefix or not source.prefix.endswith("/"):
            raise ValueError(f"wiring: notification prefix {source.prefix!r} must be a folder ending in '/'")
        bucket = self.bucket(source.bucket)
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.SqsDestination(queue),
            s3.NotificationKeyFilter(prefix=source.prefix),
        )
        # The notifications resource depends on the queue (and its policy, which S3 needs to
        # validate the destination); the queue dependency is implied by its ARN in the resource.
        cfn_queue = queue.node.default_child
        if not isinstance(cfn_queue, CfnResource):
            raise TypeError("expected the queue to be a CloudFormation resource")
        if source.bucket not in self._notified_queues:
            cfn_notifications = bucket.node.find_child("Notifications").node.default_child
            if not isinstance(cfn_notifications, CfnResource):
                raise TypeError("expected the bucket notifications to be a CloudFormation resource")
            self._notified_queues[source.bucket] = []
            drop_redundant_dependencies(cfn_notifications, self._notified_queues[source.bucket])
        self._notified_queues[source.bucket].append(cfn_queue)
        self._tighten_notifications_handler()

    def _tighten_notifications_handler(self) -> None:
        """CDK's handler function: our role only (no managed policy), logs to its own log group."""
        if self._notifications_log_group is not None:
            return  # done on the first notification: the handler is one per stack
        role = self.notifications_role
        if role is None:
            raise RuntimeError("bucket notifications without a handler role")
        handler = _notifications_handler(Stack.of(self))
        cfn_function, cfn_role = handler.node.default_child, role.node.default_child
        if not (isinstance(cfn_function, CfnResource) and isinstance(cfn_role, iam.CfnRole)):
            raise TypeError("expected the notifications handler and its role to be CloudFormation resources")

        self._notifications_log_group = logs.LogGroup(
            self,
            "NotificationsHandlerLogs",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        self._notifications_log_group.grant_write(role)
        cfn_function.add_property_override(
            "LoggingConfig", {"LogGroup": self._notifications_log_group.log_group_name}
        )
        # CDK adds AWSLambdaBasicExecutionRole (logs:* on every log group) to the handler's role;
        # the grant above replaces it with writing to the handler's own log group.
        cfn_role.managed_policy_arns = None
        drop_redundant_dependencies(cfn_function, [cfn_role])


def _notifications_handler(stack: Stack) -> IConstruct:
    handlers = [
        child for child in stack.node.children if child.node.id.startswith(NOTIFICATIONS_HANDLER_ID_PREFIX)
    ]
    if len(handlers) != 1:
        raise RuntimeError(
            f"expected CDK's one {NOTIFICATIONS_HANDLER_ID_PREFIX}* construct in the stack, found {len(handlers)}"
        )
    return handlers[0]


def _drop_auto_delete_provider_role_dependency(stack: Stack) -> None:
    """The auto-delete handler depends on the role whose ARN it names (cfn-lint W3005)."""
    provider = stack.node.try_find_child(AUTO_DELETE_PROVIDER_ID)
    if provider is None:
        raise RuntimeError(f"expected CDK's {AUTO_DELETE_PROVIDER_ID} construct in the stack")
    handler, role = provider.node.find_child("Handler"), provider.node.find_child("Role")
    if not (isinstance(handler, CfnResource) and isinstance(role, CfnResource)):
        raise TypeError("expected the auto-delete handler and its role to be CloudFormation resources")
    drop_redundant_dependencies(handler, [role])
