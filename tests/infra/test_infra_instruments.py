"""The instrument feature as deployed: the InstrumentApi and BatchIssuer functions, the 29 routes,
the Exports bucket, the InstrumentBatches queue, and exactly the grants between them.

The generic tests (one per wiring entry) cover these too; here the expected values are spelled
out, so that a change to the wiring of this feature shows up as a failing test to look at.
"""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from infra_testing import (
    Synthesized,
    as_list,
    bucket_id,
    function_resource,
    methods,
    queue_ids,
    refs,
    role_statements,
)

from infra.nag import PACK
from loyalty_engine import wiring
from loyalty_engine.instruments.series_use_cases import API_MARGIN_MS

pytestmark = pytest.mark.infra

INSTRUMENT_API = wiring.INSTRUMENT_API
BATCH_ISSUER = wiring.BATCH_ISSUER

ROUTES = {
    ("PUT", "/v1/merchant-groups/{merchant_group_id}"),
    ("GET", "/v1/merchant-groups/{merchant_group_id}"),
    ("GET", "/v1/merchant-groups"),
    ("PUT", "/v1/merchants/{merchant_id}"),
    ("GET", "/v1/merchants/{merchant_id}"),
    ("GET", "/v1/merchants"),
    ("PUT", "/v1/series/{series_id}"),
    ("GET", "/v1/series/{series_id}"),
    ("GET", "/v1/series"),
    ("POST", "/v1/series/{series_id}/batches"),
    ("GET", "/v1/series/{series_id}/batches"),
    ("GET", "/v1/series/{series_id}/batches/{batch_id}"),
    ("POST", "/v1/series/{series_id}/store-credits"),
    ("POST", "/v1/instruments/{number}/activations"),
    ("POST", "/v1/instruments/{number}/redemptions"),
    ("POST", "/v1/instruments/{number}/redemptions/{redemption_id}/reversals"),
    ("GET", "/v1/instruments/{number}"),
    ("GET", "/v1/instruments/{number}/ledger"),
    ("POST", "/v1/instruments/{number}/cancellations"),
    ("PUT", "/v1/customer-groups/{customer_group_id}"),
    ("GET", "/v1/customer-groups/{customer_group_id}"),
    ("GET", "/v1/customer-groups"),
    ("GET", "/v1/customer-groups/{customer_group_id}/customers"),
    ("PUT", "/v1/customers/{customer_id}"),
    ("GET", "/v1/customers/{customer_id}"),
    ("GET", "/v1/customers"),
    ("PUT", "/v1/members/{card_code}/customer"),
    ("PUT", "/v1/instruments/{number}/customer"),
    ("DELETE", "/v1/instruments/{number}/customer"),
}
CONSUME_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}


def exports_bucket(synthesized: Synthesized) -> str:
    return bucket_id(synthesized, "Exports")


def batch_queue(synthesized: Synthesized) -> tuple[str, str]:
    return queue_ids(synthesized, "InstrumentBatches")


# Functions


@pytest.mark.parametrize(
    ("spec", "handler", "memory", "timeout"),
    [
        (INSTRUMENT_API, "loyalty_engine.handlers.instrument_api.handler", 512, 28),
        (BATCH_ISSUER, "loyalty_engine.handlers.instrument_batches.handler", 1024, 900),
    ],
    ids=["InstrumentApi", "BatchIssuer"],
)
def test_instrument_functions_and_their_environment(
    prod: Synthesized, spec: wiring.Function, handler: str, memory: int, timeout: int
) -> None:
    _, function = function_resource(prod, spec)
    assert function["Handler"] == handler
    assert (function["MemorySize"], function["Timeout"]) == (memory, timeout)
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    assert function["Environment"]["Variables"] == {
        "TABLE_NAME": {"Ref": table_id},
        "POWERTOOLS_SERVICE_NAME": "loyalty-engine",
        "POWERTOOLS_METRICS_NAMESPACE": "LoyaltyEngine",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "IMPORT_BUCKET": {"Ref": bucket_id(prod, "Imports")},
        "EXPORT_BUCKET": {"Ref": exports_bucket(prod)},
        "BATCH_QUEUE_URL": {"Ref": batch_queue(prod)[0]},
    }


def test_the_api_timeout_is_below_api_gateways_limit(prod: Synthesized) -> None:
    # A small batch is issued during the call: the function ends (and answers) before API
    # Gateway gives up after 29 s, and hands over to the queue API_MARGIN_MS before its timeout.
    _, function = function_resource(prod, INSTRUMENT_API)
    assert function["Timeout"] < 29
    assert function["Timeout"] * 1000 - API_MARGIN_MS >= 20_000  # most of the time is still for issuing


# API


def test_the_instrument_routes_are_methods_of_the_instrument_api_behind_the_authorizer(
    prod: Synthesized,
) -> None:
    assert {(route.method, route.path) for route in wiring.INSTRUMENT_ROUTES} == ROUTES
    found = methods(prod)
    function_id, _ = function_resource(prod, INSTRUMENT_API)
    (authorizer_id,) = prod.of_type("AWS::ApiGateway::Authorizer")
    assert set(found) >= ROUTES
    for key in ROUTES:
        method = found[key]
        assert method["AuthorizationType"] == "CUSTOM", key
        assert method["AuthorizerId"] == {"Ref": authorizer_id}, key
        assert method["Integration"]["Type"] == "AWS_PROXY", key
        assert refs(method["Integration"]["Uri"]) == {function_id}, key
    # And no other route reaches it.
    assert {key for key, m in found.items() if function_id in refs(m["Integration"]["Uri"])} == ROUTES


def test_the_api_may_invoke_the_instrument_api_once_for_all_its_routes(prod: Synthesized) -> None:
    function_id, _ = function_resource(prod, INSTRUMENT_API)
    (rest_api_id,) = prod.of_type("AWS::ApiGateway::RestApi")
    (permission,) = [
        p["Properties"]
        for p in prod.of_type("AWS::Lambda::Permission").values()
        if refs(p["Properties"]["FunctionName"]) == {function_id}
    ]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert rest_api_id in refs(permission["SourceArn"])
    issuer_id, _ = function_resource(prod, BATCH_ISSUER)
    assert not [
        p for p in prod.of_type("AWS::Lambda::Permission").values() if issuer_id in refs(p["Properties"])
    ], "the batch issuer is invoked by its queue's event source mapping only"


# The Exports bucket


def test_exports_bucket_is_private_encrypted_versioned_logged_and_expires_exports(prod: Synthesized) -> None:
    logical_id = exports_bucket(prod)
    log_bucket = prod.stack.buckets.access_log_bucket
    assert log_bucket is not None
    properties = prod.resources[logical_id]["Properties"]
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
    assert properties["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": prod.logical_id(log_bucket)},
        "LogFilePrefix": "Exports/",
    }
    assert properties["LifecycleConfiguration"]["Rules"] == [
        {
            "Id": "Housekeeping",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            "ExpiredObjectDeleteMarker": True,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "Status": "Enabled",
        },
        # A hand-off to the card printer, downloaded once: see infra.config.OBJECT_EXPIRATION.
        {"Id": "Expire-exports", "Prefix": "exports/", "ExpirationInDays": 30, "Status": "Enabled"},
    ]
    assert prod.resources[logical_id]["DeletionPolicy"] == "Retain"


def test_exports_bucket_policy_denies_plain_http_and_old_tls_and_allows_nothing(prod: Synthesized) -> None:
    logical_id = exports_bucket(prod)
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in prod.of_type("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    everything = [
        {"Fn::GetAtt": [logical_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id, "Arn"]}, "/*"]]},
    ]
    assert policy["Statement"] == [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": everything,
        },
        {
            "Action": "s3:*",
            "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": everything,
        },
    ]


def test_exports_bucket_sends_no_notifications(prod: Synthesized) -> None:
    notified = {
        r["Properties"]["BucketName"]["Ref"] for r in prod.of_type("Custom::S3BucketNotifications").values()
    }
    assert exports_bucket(prod) not in notified
    assert prod.template_json["Outputs"]["ExportsBucketName"]["Value"] == {"Ref": exports_bucket(prod)}


# The InstrumentBatches queue


def test_batch_queue_its_dead_letter_queue_and_alarms(prod: Synthesized) -> None:
    queue_id, dlq_id = batch_queue(prod)
    queue = prod.resources[queue_id]["Properties"]
    assert queue["VisibilityTimeout"] == 6 * 900  # 6 x the BatchIssuer's timeout
    assert queue["DelaySeconds"] == 0
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    dlq = prod.resources[dlq_id]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    # No S3 source: only the functions send to it (no queue policy letting a service in).
    for policy in prod.of_type("AWS::SQS::QueuePolicy").values():
        if {"Ref": queue_id} in policy["Properties"]["Queues"]:
            assert all(s["Effect"] == "Deny" for s in policy["Properties"]["PolicyDocument"]["Statement"])
    alarmed = {
        (a["Properties"].get("MetricName"), target)
        for a in prod.of_type("AWS::CloudWatch::Alarm").values()
        for d in a["Properties"].get("Dimensions", [])
        if d["Name"] == "QueueName"
        for target in refs(d["Value"])
    }
    assert ("ApproximateNumberOfMessagesVisible", dlq_id) in alarmed
    assert ("ApproximateAgeOfOldestMessage", queue_id) in alarmed


def test_the_batch_issuer_consumes_the_queue_one_batch_at_a_time(prod: Synthesized) -> None:
    function_id, function = function_resource(prod, BATCH_ISSUER)
    queue_id, _ = batch_queue(prod)
    prod.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_id},
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "Enabled": Match.absent(),
        },
    )
    mappings = [
        m
        for m in prod.of_type("AWS::Lambda::EventSourceMapping").values()
        if refs(m["Properties"]) & {queue_id}
    ]
    assert len(mappings) == 1, "one consumer of the batch queue"
    assert "DeadLetterConfig" not in function  # a failing message goes to the queue's DLQ


def test_both_functions_alarm_on_errors_and_throttles(prod: Synthesized) -> None:
    for spec in (INSTRUMENT_API, BATCH_ISSUER):
        function_id, _ = function_resource(prod, spec)
        metrics = {
            a["Properties"]["MetricName"]
            for a in prod.of_type("AWS::CloudWatch::Alarm").values()
            for d in a["Properties"].get("Dimensions", [])
            if d["Name"] == "FunctionName" and refs(d["Value"]) == {function_id}
        }
        assert metrics == {"Errors", "Throttles"}, spec.name


# Grants


def grants(synthesized: Synthesized, spec: wiring.Function, service: str) -> set[tuple[str, str]]:
    """(action, resource) of the role's statements for one service; resources as JSON-ish text."""
    found = set()
    for statement in role_statements(synthesized, spec):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            if action.startswith(f"{service}:"):
                for resource in as_list(statement["Resource"]):
                    found.add((action, _resource(resource)))
    return found


def _resource(resource: object) -> str:
    """`<logical id>` for a GetAtt ARN, `<logical id>/<suffix>` for an ARN with a path, else as is."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Fn::Join" in resource:
        arn, suffix = resource["Fn::Join"][1]
        return f"{arn['Fn::GetAtt'][0]}{suffix}"
    return str(resource)


@pytest.mark.parametrize("spec", [INSTRUMENT_API, BATCH_ISSUER], ids=lambda spec: spec.name)
def test_s3_access_is_put_object_under_exports_only(prod: Synthesized, spec: wiring.Function) -> None:
    assert grants(prod, spec, "s3") == {("s3:PutObject", f"{exports_bucket(prod)}/exports/*")}


def test_the_instrument_api_may_send_to_the_batch_queue_only(prod: Synthesized) -> None:
    queue_id, _ = batch_queue(prod)
    _, function = function_resource(prod, INSTRUMENT_API)
    (async_dlq,) = refs(function["DeadLetterConfig"])  # failed asynchronous invocations
    assert grants(prod, INSTRUMENT_API, "sqs") == {
        ("sqs:SendMessage", queue_id),
        ("sqs:SendMessage", async_dlq),
    }


def test_the_batch_issuer_consumes_and_continues_on_its_own_queue_only(prod: Synthesized) -> None:
    queue_id, _ = batch_queue(prod)
    assert grants(prod, BATCH_ISSUER, "sqs") == {
        (action, queue_id) for action in (*CONSUME_ACTIONS, "sqs:SendMessage")
    }


@pytest.mark.parametrize("spec", [INSTRUMENT_API, BATCH_ISSUER], ids=lambda spec: spec.name)
def test_table_access_is_item_level_read_write_without_indexes(
    prod: Synthesized, spec: wiring.Function
) -> None:
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    assert grants(prod, spec, "dynamodb") == {
        (action, table_id)
        for action in (
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        )
    }


@pytest.mark.parametrize("spec", [INSTRUMENT_API, BATCH_ISSUER], ids=lambda spec: spec.name)
def test_no_schedule_management_or_import_bucket_access(prod: Synthesized, spec: wiring.Function) -> None:
    services = {a.split(":")[0] for s in role_statements(prod, spec) for a in as_list(s["Action"])}
    assert services == {"dynamodb", "s3", "sqs", "logs", "xray"}
    imports = bucket_id(prod, "Imports")
    assert all(imports not in refs(s["Resource"]) for s in role_statements(prod, spec))


@pytest.fixture(scope="module")
def acknowledgments(prod: Synthesized) -> list[tuple[str, str, str]]:
    return prod.acknowledgments()  # a walk of every construct: once for the tests below


@pytest.mark.parametrize("spec", [INSTRUMENT_API, BATCH_ISSUER], ids=lambda spec: spec.name)
def test_the_exports_prefix_wildcard_is_acknowledged_with_its_reason(
    prod: Synthesized, acknowledgments: list[tuple[str, str, str]], spec: wiring.Function
) -> None:
    role_path = prod.stack.functions[spec.name].role.node.path
    rule = f"{PACK}::AwsSolutions-IAM5[Resource::<{exports_bucket(prod)}.Arn>/exports/*]"
    (reason,) = [reason for rule_id, path, reason in acknowledgments if path == role_path and rule_id == rule]
    assert "s3:PutObject" in reason and "'exports/'" in reason
    # And the finding it acknowledges is there: the acknowledgment is needed.
    assert (rule, role_path) in {
        (f["acknowledgedId"], f["acknowledgedAt"]) for f in prod.acknowledged_findings(PACK)
    }
