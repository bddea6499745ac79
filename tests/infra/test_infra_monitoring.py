"""Alarms for every function, DLQ, queue and the API, published to an encrypted topic; a dashboard."""

from __future__ import annotations

import json

import pytest
from infra_testing import Synthesized, queue_ids, refs, schedule_ids

from infra.metrics import TABLE_OPERATIONS
from loyalty_engine import wiring
from loyalty_engine.kernel.table import GLOBAL_SECONDARY_INDEXES

pytestmark = pytest.mark.infra


def alarms(synthesized: Synthesized) -> list[dict]:
    return [a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()]


def alarms_on(synthesized: Synthesized, metric: str, dimension: str, target: str) -> list[dict]:
    return [
        a
        for a in alarms(synthesized)
        if a.get("MetricName") == metric
        and any(d["Name"] == dimension and target in refs(d["Value"]) for d in a.get("Dimensions", []))
    ]


def function_ids(synthesized: Synthesized) -> dict[str, str]:
    by_handler = {
        f["Properties"]["Handler"]: logical_id
        for logical_id, f in synthesized.of_type("AWS::Lambda::Function").items()
    }
    return {spec.name: by_handler[spec.handler] for spec in wiring.FUNCTIONS}


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_an_alarm(prod: Synthesized, metric: str) -> None:
    for name, logical_id in function_ids(prod).items():
        (alarm,) = alarms_on(prod, metric, "FunctionName", logical_id)
        assert alarm["Namespace"] == "AWS/Lambda", name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Threshold"] == 1


def test_a_function_with_reserved_concurrency_alarms_on_sustained_throttling_only(prod: Synthesized) -> None:
    # Its throttles are by design in a burst (and retried): 15 minutes of them say the cap is too small.
    ids = function_ids(prod)
    for spec in wiring.FUNCTIONS:
        (alarm,) = alarms_on(prod, "Throttles", "FunctionName", ids[spec.name])
        periods = 1 if spec.reserved_concurrency is None else 3
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (periods, periods), spec.name
    assert any(spec.reserved_concurrency for spec in wiring.FUNCTIONS)


def table_alarms(synthesized: Synthesized, metric: str) -> list[dict]:
    """Alarms on `metric` of the table, alone or through a math expression over its operations."""
    (table_id,) = synthesized.of_type("AWS::DynamoDB::Table")
    found = []
    for alarm in alarms(synthesized):
        metrics = (
            [alarm]
            if "MetricName" in alarm
            else [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        )
        if metrics and all(
            m["MetricName"] == metric
            and m["Namespace"] == "AWS/DynamoDB"
            and {"Name": "TableName", "Value": {"Ref": table_id}} in m.get("Dimensions", [])
            for m in metrics
        ):
            found.append(alarm)
    return found


@pytest.mark.parametrize("metric", ["ReadThrottleEvents", "WriteThrottleEvents"])
def test_the_table_and_each_index_alarm_on_sustained_throttle_events(prod: Synthesized, metric: str) -> None:
    found = {
        next((d["Value"] for d in a["Dimensions"] if d["Name"] == "GlobalSecondaryIndexName"), None): a
        for a in table_alarms(prod, metric)
    }
    assert set(found) == {None, *(index.name for index in GLOBAL_SECONDARY_INDEXES)}
    for alarm in found.values():
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Sum", 300, 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (2, 2)  # 10 minutes: no burst


@pytest.mark.parametrize(("metric", "periods"), [("ThrottledRequests", 2), ("SystemErrors", 1)])
def test_the_table_alarms_on_throttled_requests_and_system_errors_of_every_operation_it_serves(
    prod: Synthesized, metric: str, periods: int
) -> None:
    (alarm,) = table_alarms(prod, metric)
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["ReturnData"] is True
    operations = {
        next(d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "Operation")
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }
    # Every operation the functions call (grep the stores for the botocore calls).
    assert operations == {
        "GetItem",
        "BatchGetItem",
        "Query",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
    }
    assert len(TABLE_OPERATIONS) == len(operations)
    assert len(alarm["Metrics"]) - 1 <= 10  # CloudWatch's limit of metrics in one alarm expression
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (1, periods)


def dead_letter_queue_ids(synthesized: Synthesized) -> list[str]:
    """The functions' (asynchronous invocations), the wiring queues' and the schedules' dead-letter queues."""
    async_dlqs = [
        queue_id
        for logical_id in function_ids(synthesized).values()
        for queue_id in refs(synthesized.resources[logical_id]["Properties"].get("DeadLetterConfig", {}))
    ]
    return [
        *async_dlqs,
        *(queue_ids(synthesized, queue.name)[1] for queue in wiring.QUEUES),
        schedule_ids(synthesized).dead_letter_queue,
        synthesized.logical_id(synthesized.stack.domain_events.on_failure),  # the stream's on-failure queue
    ]


def test_every_dead_letter_queue_has_an_alarm(prod: Synthesized) -> None:
    dead_letter_queues = dead_letter_queue_ids(prod)
    assert len(dead_letter_queues) == len(prod.of_type("AWS::SQS::Queue")) - len(wiring.QUEUES)
    for queue_id in dead_letter_queues:
        (alarm,) = alarms_on(prod, "ApproximateNumberOfMessagesVisible", "QueueName", queue_id)
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0


@pytest.mark.parametrize("queue", wiring.QUEUES, ids=lambda queue: queue.name)
def test_queue_alarms_when_its_oldest_message_is_older_than_an_hour(
    prod: Synthesized, queue: wiring.Queue
) -> None:
    queue_id, _ = queue_ids(prod, queue.name)
    (alarm,) = alarms_on(prod, "ApproximateAgeOfOldestMessage", "QueueName", queue_id)
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["Statistic"] == "Maximum"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 3600


def test_api_alarms(prod: Synthesized) -> None:
    (rest_api,) = prod.of_type("AWS::ApiGateway::RestApi").values()
    api_name = rest_api["Properties"]["Name"]
    api_alarms = {
        a["MetricName"]: a
        for a in alarms(prod)
        if a.get("Namespace") == "AWS/ApiGateway"
        and {"Name": "ApiName", "Value": api_name} in a["Dimensions"]
    }
    assert set(api_alarms) == {"5XXError", "Latency"}
    assert api_alarms["5XXError"]["Statistic"] == "Sum"
    assert api_alarms["Latency"]["ExtendedStatistic"] == "p99"


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(prod: Synthesized) -> None:
    (topic_id,) = prod.of_type("AWS::SNS::Topic")
    # Errors and throttles per function, dead letters per function DLQ, dead letters and
    # oldest-message age per queue, the schedules' dead letters (kept and lost), balance drift,
    # the API's 5XX and latency, and the table's: throttled requests, read and write throttle
    # events of the table and of each index, system errors.
    async_dlqs = [spec for spec in wiring.FUNCTIONS if spec.queue_trigger is None]
    table_alarms = 1 + 2 * (1 + len(GLOBAL_SECONDARY_INDEXES)) + 1
    expected = 2 * len(wiring.FUNCTIONS) + len(async_dlqs) + 2 * len(wiring.QUEUES) + 2 + 1 + 2 + table_alarms
    assert len(alarms(prod)) == expected
    for alarm in alarms(prod):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["OKActions"] == [{"Ref": topic_id}]
        assert alarm["TreatMissingData"] == "notBreaching"
    assert prod.template_json["Outputs"]["AlarmTopicArn"]["Value"] == {"Ref": topic_id}


def test_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(prod: Synthesized) -> None:
    (topic,) = prod.of_type("AWS::SNS::Topic").values()
    (key_id,) = refs(topic["Properties"]["KmsMasterKeyId"])
    key = prod.resources[key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch_statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch_statements) == 1
    assert set(cloudwatch_statements[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_topic_requires_ssl_and_lets_this_accounts_alarms_publish(prod: Synthesized) -> None:
    (topic_id,) = prod.of_type("AWS::SNS::Topic")
    (policy,) = prod.of_type("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert "aws:SourceAccount" in allow["Condition"]["StringEquals"]


def test_schedules_alarm_when_an_invocation_failed_all_retries(prod: Synthesized) -> None:
    ids = schedule_ids(prod)
    (kept,) = alarms_on(prod, "ApproximateNumberOfMessagesVisible", "QueueName", ids.dead_letter_queue)
    assert kept["Statistic"] == "Maximum"
    assert "dead-letter queue" in kept["AlarmDescription"]
    # Those Scheduler could not even put in the dead-letter queue.
    (lost,) = alarms_on(prod, "InvocationsFailedToBeSentToDeadLetterCount", "ScheduleGroup", ids.group)
    assert lost["Namespace"] == "AWS/Scheduler"
    assert lost["Statistic"] == "Sum"
    assert lost["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert lost["Threshold"] == 1


def test_balance_drift_alarm(prod: Synthesized) -> None:
    (alarm,) = [a for a in alarms(prod) if a.get("MetricName") == "BalanceDrift"]
    # As Powertools Metrics emits it: the functions' namespace, and the service as the only dimension.
    assert alarm["Namespace"] == "LoyaltyEngine"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "loyalty-engine"}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["TreatMissingData"] == "notBreaching"
    assert (
        alarm["AlarmDescription"]
        == "Reconciliation found members whose balance is not the sum of their ledger"
    )


def test_dashboard_shows_api_functions_and_table(prod: Synthesized) -> None:
    (dashboard,) = prod.of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    shown = refs(body)
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    assert table_id in shown
    assert set(function_ids(prod).values()) <= shown
    assert {queue_id for queue in wiring.QUEUES for queue_id in queue_ids(prod, queue.name)} <= shown
    ids = schedule_ids(prod)
    assert {ids.group, ids.dead_letter_queue} <= shown
    text = json.dumps(body)
    (rest_api,) = prod.of_type("AWS::ApiGateway::RestApi").values()
    assert rest_api["Properties"]["Name"] in text
    assert "BalanceDrift" in text
    for namespace in (
        "AWS/ApiGateway",
        "AWS/Lambda",
        "AWS/DynamoDB",
        "AWS/SQS",
        "AWS/Scheduler",
        "LoyaltyEngine",
    ):
        assert namespace in text
