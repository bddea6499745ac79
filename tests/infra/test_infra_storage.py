"""Buckets, queues, the S3 notifications between them and the functions consuming the queues,
all as `loyalty_engine.wiring` describes them."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from infra_testing import Synthesized, bucket_id, function_resource, queue_ids, refs

from infra.config import (
    ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER,
    NONCURRENT_VERSION_EXPIRATION,
    OBJECT_EXPIRATION,
)
from loyalty_engine import wiring

pytestmark = pytest.mark.infra

BUCKETS = wiring.BUCKETS
QUEUES = wiring.QUEUES
NOTIFIED = [queue for queue in QUEUES if isinstance(queue.source, wiring.S3Notification)]
CONSUMERS = [spec for spec in wiring.FUNCTIONS if spec.queue_trigger is not None]
SSL_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def test_wiring_has_what_these_tests_check() -> None:
    # Otherwise the parametrized tests below would silently test nothing.
    assert BUCKETS
    assert NOTIFIED
    assert CONSUMERS


def access_log_bucket_id(synthesized: Synthesized) -> str:
    log_bucket = synthesized.stack.buckets.access_log_bucket
    assert log_bucket is not None
    return synthesized.logical_id(log_bucket)


def bucket_policy_statements(synthesized: Synthesized, logical_id: str) -> list[dict]:
    (policy,) = [
        p["Properties"]
        for p in synthesized.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    statements: list[dict] = policy["PolicyDocument"]["Statement"]
    return statements


def queue_policy_statements(synthesized: Synthesized, logical_id: str) -> list[dict]:
    (policy,) = [
        p["Properties"]
        for p in synthesized.of_type("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": logical_id}]
    ]
    statements: list[dict] = policy["PolicyDocument"]["Statement"]
    return statements


# Buckets


def test_one_bucket_per_wiring_bucket_and_one_for_access_logs(each_stage: Synthesized) -> None:
    expected = {bucket_id(each_stage, bucket.name) for bucket in BUCKETS} | {access_log_bucket_id(each_stage)}
    assert set(each_stage.of_type("AWS::S3::Bucket")) == expected


@pytest.mark.parametrize("bucket", BUCKETS, ids=lambda bucket: bucket.name)
def test_bucket_is_private_encrypted_and_versioned(prod: Synthesized, bucket: wiring.Bucket) -> None:
    properties = prod.resources[bucket_id(prod, bucket.name)]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "AccessControl" not in properties


@pytest.mark.parametrize("bucket", BUCKETS, ids=lambda bucket: bucket.name)
def test_bucket_refuses_requests_without_tls(prod: Synthesized, bucket: wiring.Bucket) -> None:
    logical_id = bucket_id(prod, bucket.name)
    (deny,) = [s for s in bucket_policy_statements(prod, logical_id) if s.get("Condition") == SSL_ONLY]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Action"] == "s3:*"
    # The bucket and every object in it.
    assert {"Fn::GetAtt": [logical_id, "Arn"]} in deny["Resource"]
    assert {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id, "Arn"]}, "/*"]]} in deny["Resource"]


@pytest.mark.parametrize("bucket", BUCKETS, ids=lambda bucket: bucket.name)
def test_bucket_lifecycle(prod: Synthesized, bucket: wiring.Bucket) -> None:
    rules = prod.resources[bucket_id(prod, bucket.name)]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    (housekeeping,) = [rule for rule in rules if "Prefix" not in rule]
    assert housekeeping["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": NONCURRENT_VERSION_EXPIRATION.to_days()
    }
    assert housekeeping["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": ABORT_INCOMPLETE_MULTIPART_UPLOAD_AFTER.to_days()
    }
    assert "ExpirationInDays" not in housekeeping  # current objects outside the prefixes stay
    by_prefix = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "Prefix" in rule}
    # Each bucket expires its own prefixes only (none of another bucket's).
    assert by_prefix == {prefix: after.to_days() for prefix, after in OBJECT_EXPIRATION.get(bucket.name, ())}


@pytest.mark.parametrize("bucket", BUCKETS, ids=lambda bucket: bucket.name)
def test_bucket_access_is_logged_to_the_access_log_bucket(prod: Synthesized, bucket: wiring.Bucket) -> None:
    logical_id, log_bucket = bucket_id(prod, bucket.name), access_log_bucket_id(prod)
    assert prod.resources[logical_id]["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_bucket},
        "LogFilePrefix": f"{bucket.name}/",
    }
    # The logging service may write there for this bucket only: a bucket policy, not an ACL.
    (allow,) = [
        s
        for s in bucket_policy_statements(prod, log_bucket)
        if s["Effect"] == "Allow" and refs(s["Condition"]) == {logical_id}
    ]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [log_bucket, "Arn"]}, f"/{bucket.name}/*"]]}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_access_log_bucket_is_private_and_expires_logs(each_stage: Synthesized) -> None:
    log_bucket = access_log_bucket_id(each_stage)
    properties = each_stage.resources[log_bucket]["Properties"]
    assert all(properties["PublicAccessBlockConfiguration"].values())
    # Server access logs can only be delivered to an SSE-S3 bucket.
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in properties
    assert "LoggingConfiguration" not in properties  # a log bucket does not log into itself
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"prod": 365, "dev": 7}[each_stage.stage]
    assert any(s.get("Condition") == SSL_ONLY for s in bucket_policy_statements(each_stage, log_bucket))


def test_prod_buckets_are_retained(prod: Synthesized) -> None:
    for logical_id, bucket in prod.of_type("AWS::S3::Bucket").items():
        assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain"), logical_id
    assert prod.of_type("Custom::S3AutoDeleteObjects") == {}


def test_dev_buckets_are_emptied_and_deleted_with_the_stack(dev: Synthesized) -> None:
    buckets = dev.of_type("AWS::S3::Bucket")
    for logical_id, bucket in buckets.items():
        assert bucket["DeletionPolicy"] == "Delete", logical_id
    emptied = {
        resource["Properties"]["BucketName"]["Ref"]
        for resource in dev.of_type("Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == set(buckets)


@pytest.mark.parametrize("bucket", BUCKETS, ids=lambda bucket: bucket.name)
def test_bucket_name_is_output(prod: Synthesized, bucket: wiring.Bucket) -> None:
    assert prod.template_json["Outputs"][f"{bucket.name}BucketName"]["Value"] == {
        "Ref": bucket_id(prod, bucket.name)
    }


# Queues


@pytest.mark.parametrize("queue", QUEUES, ids=lambda queue: queue.name)
def test_queue_and_its_dead_letter_queue(each_stage: Synthesized, queue: wiring.Queue) -> None:
    queue_id, dlq_id = queue_ids(each_stage, queue.name)
    properties = each_stage.resources[queue_id]["Properties"]
    assert properties["VisibilityTimeout"] == queue.visibility_timeout_s
    assert properties.get("DelaySeconds", 0) == queue.delivery_delay_s
    assert properties["SqsManagedSseEnabled"] is True
    assert properties["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": queue.max_receive_count,
    }
    dlq = each_stage.resources[dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["MessageRetentionPeriod"] > properties["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dlq
    for logical_id in (queue_id, dlq_id):
        deny = [s for s in queue_policy_statements(each_stage, logical_id) if s.get("Condition") == SSL_ONLY]
        assert [s["Effect"] for s in deny] == ["Deny"]


@pytest.mark.parametrize("queue", QUEUES, ids=lambda queue: queue.name)
def test_queues_are_kept_in_prod(prod: Synthesized, queue: wiring.Queue) -> None:
    for logical_id in queue_ids(prod, queue.name):
        assert prod.resources[logical_id]["DeletionPolicy"] == "Retain"


# S3 -> queue notifications


@pytest.mark.parametrize("queue", NOTIFIED, ids=lambda queue: queue.name)
def test_objects_created_under_the_prefix_are_sent_to_the_queue(
    prod: Synthesized, queue: wiring.Queue
) -> None:
    assert isinstance(queue.source, wiring.S3Notification)
    bucket, (queue_id, _) = bucket_id(prod, queue.source.bucket), queue_ids(prod, queue.name)
    # CDK applies bucket notifications with a custom resource (one per bucket).
    (notifications,) = [
        r["Properties"]
        for r in prod.of_type("Custom::S3BucketNotifications").values()
        if r["Properties"]["BucketName"] == {"Ref": bucket}
    ]
    assert notifications["Managed"] is True
    configurations = notifications["NotificationConfiguration"]["QueueConfigurations"]
    assert {
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": queue.source.prefix}]}},
        "QueueArn": {"Fn::GetAtt": [queue_id, "Arn"]},
    } in configurations
    # S3 may send to the queue, for this bucket only.
    (allow,) = [s for s in queue_policy_statements(prod, queue_id) if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "sqs:SendMessage" in allow["Action"]
    assert allow["Condition"] == {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [bucket, "Arn"]}}}


def test_every_notification_comes_from_the_wiring(prod: Synthesized) -> None:
    expected = {
        (bucket_id(prod, q.source.bucket), q.source.prefix, queue_ids(prod, q.name)[0])
        for q in NOTIFIED
        if isinstance(q.source, wiring.S3Notification)
    }
    found = {
        (
            r["Properties"]["BucketName"]["Ref"],
            c["Filter"]["Key"]["FilterRules"][0]["Value"],
            c["QueueArn"]["Fn::GetAtt"][0],
        )
        for r in prod.of_type("Custom::S3BucketNotifications").values()
        for c in r["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    }
    assert found == expected


def test_notifications_handler_has_least_privilege_and_its_own_log_group(each_stage: Synthesized) -> None:
    service_tokens = {
        r["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        for r in each_stage.of_type("Custom::S3BucketNotifications").values()
    }
    (handler_id,) = service_tokens
    handler = each_stage.resources[handler_id]["Properties"]
    role_id = handler["Role"]["Fn::GetAtt"][0]
    assert (
        "ManagedPolicyArns" not in each_stage.resources[role_id]["Properties"]
    )  # no AWSLambdaBasicExecutionRole
    log_group_id = handler["LoggingConfig"]["LogGroup"]["Ref"]
    assert (
        each_stage.resources[log_group_id]["Properties"]["RetentionInDays"]
        == {"prod": 90, "dev": 7}[each_stage.stage]
    )
    notified_buckets = {bucket_id(each_stage, q.source.bucket) for q in NOTIFIED if q.source is not None}
    granted = {
        (action, resource["Fn::GetAtt"][0])
        for policy in each_stage.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        for resource in (
            [statement["Resource"]] if isinstance(statement["Resource"], dict) else statement["Resource"]
        )
    }
    assert granted == {
        *(("s3:PutBucketNotification", bucket) for bucket in notified_buckets),
        ("logs:CreateLogStream", log_group_id),
        ("logs:PutLogEvents", log_group_id),
    }


# Queue consumers


def test_one_event_source_mapping_per_queue_trigger(prod: Synthesized) -> None:
    streams = [spec for spec in wiring.FUNCTIONS if spec.stream_trigger is not None]  # the table's stream
    assert len(prod.of_type("AWS::Lambda::EventSourceMapping")) == len(CONSUMERS) + len(streams)


@pytest.mark.parametrize("spec", CONSUMERS, ids=lambda spec: spec.name)
def test_consumer_polls_its_queue_and_reports_partial_batch_failures(
    prod: Synthesized, spec: wiring.Function
) -> None:
    assert spec.queue_trigger is not None
    function_id, _ = function_resource(prod, spec)
    queue_id, _ = queue_ids(prod, spec.queue_trigger.queue)
    prod.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id},
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "BatchSize": spec.queue_trigger.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "Enabled": Match.absent(),
        },
    )


@pytest.mark.parametrize("spec", CONSUMERS, ids=lambda spec: spec.name)
def test_consumer_runs_no_longer_than_its_messages_stay_invisible(
    prod: Synthesized, spec: wiring.Function
) -> None:
    assert spec.queue_trigger is not None
    _, function = function_resource(prod, spec)
    queue_id, _ = queue_ids(prod, spec.queue_trigger.queue)
    assert (
        prod.resources[queue_id]["Properties"]["VisibilityTimeout"] >= function["Timeout"] == spec.timeout_s
    )
