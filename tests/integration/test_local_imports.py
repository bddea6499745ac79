"""The local stack's import path: bucket -> S3 notification -> queue -> the queue's function,
as an SQS event source mapping with partial batch responses delivers it.

The function is a recording stub here (`handlers=` override), so that delivery is tested
apart from the importer itself. Everything is found from the wiring lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack.stack import LocalStack
from loyalty_engine.wiring import BUCKETS, FUNCTIONS, QUEUES, Function, Queue
from tests.support.queues import RecordingHandler, is_s3_test_event, receive_count, s3_keys

TIMEOUT = 30

# The queue fed by S3 and the function it triggers (the imports queue and the Importer).
QUEUE: Queue = next(queue for queue in QUEUES if queue.source is not None)
assert QUEUE.source is not None
FUNCTION: Function = next(
    f for f in FUNCTIONS if f.queue_trigger is not None and f.queue_trigger.queue == QUEUE.name
)
BUCKET = QUEUE.source.bucket
PREFIX = QUEUE.source.prefix  # "incoming/"


def _key(name: str) -> str:
    return f"{PREFIX}demo/{name}"


def _fail(record: dict) -> bool:
    keys = " ".join(s3_keys(record))
    return "always-fail" in keys or ("fail-once" in keys and receive_count(record) == 1)


def _raise(record: dict) -> bool:
    return any("raise-once" in key for key in s3_keys(record)) and receive_count(record) == 1


@pytest.fixture(scope="module")
def recorder() -> RecordingHandler:
    return RecordingHandler(fail=_fail, raise_when=_raise)


@pytest.fixture(scope="module")
def state_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local") / "stack.json"


@pytest.fixture(scope="class")
def stack(recorder: RecordingHandler, state_file: Path) -> Iterator[LocalStack]:
    with LocalStack.start(
        state_file=state_file, handlers={FUNCTION.name: recorder}, retry_delay_s=0
    ) as running:
        running.wait_for_queues(TIMEOUT)  # the s3:TestEvent
        yield running


def _put(stack: LocalStack, key: str, body: bytes = b"header\n") -> None:
    stack.client("s3").put_object(Bucket=stack.bucket_name(BUCKET), Key=key, Body=body)


def _dead_letters(stack: LocalStack) -> list[dict]:
    sqs = stack.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=stack.queue(QUEUE.name).dlq_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=stack.queue(QUEUE.name).dlq_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


class TestDelivery:
    def test_resources_come_from_the_wiring(self, stack: LocalStack, state_file: Path) -> None:
        s3, sqs = stack.client("s3"), stack.client("sqs")
        for bucket in BUCKETS:
            name = stack.bucket_name(bucket.name)
            s3.head_bucket(Bucket=name)
            assert os.environ[bucket.env] == name
        for queue in QUEUES:
            local = stack.queue(queue.name)
            assert os.environ[queue.env] == local.url
            attributes = sqs.get_queue_attributes(QueueUrl=local.url, AttributeNames=["All"])["Attributes"]
            assert int(attributes["VisibilityTimeout"]) == queue.visibility_timeout_s
            assert int(attributes["DelaySeconds"]) == 0, "locally the delivery delay is 0 unless asked"
            assert json.loads(attributes["RedrivePolicy"]) == {
                "deadLetterTargetArn": local.dlq_arn,
                "maxReceiveCount": queue.max_receive_count,
            }
        notifications = s3.get_bucket_notification_configuration(Bucket=stack.bucket_name(BUCKET))
        [configuration] = notifications["QueueConfigurations"]
        assert configuration["QueueArn"] == stack.queue(QUEUE.name).arn
        assert configuration["Events"] == ["s3:ObjectCreated:*"]
        assert configuration["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": PREFIX}]
        state = json.loads(state_file.read_text())
        assert state["import_bucket"] == stack.bucket_name(BUCKET)
        assert state["import_queue_url"] == stack.queue(QUEUE.name).url

    def test_the_s3_test_event_is_delivered_first(
        self, stack: LocalStack, recorder: RecordingHandler
    ) -> None:
        first = recorder.records[0]
        assert is_s3_test_event(first)
        assert json.loads(first["body"])["Bucket"] == stack.bucket_name(BUCKET)
        assert sum(is_s3_test_event(record) for record in recorder.records) == 1

    def test_an_upload_is_delivered_once_as_a_lambda_sqs_event(
        self, stack: LocalStack, recorder: RecordingHandler
    ) -> None:
        key = _key("x.csv")
        _put(stack, key)
        stack.wait_for_queues(TIMEOUT)
        [record] = recorder.records_for(key)
        assert set(record) == {
            "messageId",
            "receiptHandle",
            "body",
            "attributes",
            "messageAttributes",
            "md5OfBody",
            "eventSource",
            "eventSourceARN",
            "awsRegion",
        }
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == stack.queue(QUEUE.name).arn
        assert record["awsRegion"] == stack.region
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
        assert record["messageAttributes"] == {}
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
        [notification] = json.loads(record["body"])["Records"]
        assert notification["eventSource"] == "aws:s3"
        assert notification["eventName"].startswith("ObjectCreated:")
        assert notification["s3"]["bucket"]["name"] == stack.bucket_name(BUCKET)
        assert stack.delivery(FUNCTION.name).pending() == {"visible": 0, "in_flight": 0, "delayed": 0}

    def test_keys_arrive_url_encoded(self, stack: LocalStack, recorder: RecordingHandler) -> None:
        key = _key("a file+name é.csv")
        _put(stack, key)
        stack.wait_for_queues(TIMEOUT)
        [record] = recorder.records_for(key)
        raw = json.loads(record["body"])["Records"][0]["s3"]["object"]["key"]
        assert " " not in raw and "é" not in raw, raw

    def test_keys_outside_the_prefix_are_not_delivered(
        self, stack: LocalStack, recorder: RecordingHandler
    ) -> None:
        before = len(recorder.records)
        for key in ("reports/demo/x.csv", "processed/demo/x.csv", "demo/incoming/x.csv"):
            _put(stack, key)
        stack.wait_for_queues(TIMEOUT)
        assert len(recorder.records) == before

    def test_a_batch_item_failure_is_delivered_again(
        self, stack: LocalStack, recorder: RecordingHandler
    ) -> None:
        key = _key("fail-once.csv")
        _put(stack, key)
        stack.wait_for_queues(TIMEOUT)
        records = recorder.records_for(key)
        assert [receive_count(r) for r in records] == [1, 2]
        assert records[0]["messageId"] == records[1]["messageId"]
        assert records[0]["receiptHandle"] != records[1]["receiptHandle"]

    def test_a_raising_handler_fails_the_whole_batch(
        self, stack: LocalStack, recorder: RecordingHandler
    ) -> None:
        failed_before = stack.delivery(FUNCTION.name).failed_invocations
        key = _key("raise-once.csv")
        _put(stack, key)
        stack.wait_for_queues(TIMEOUT)
        assert [receive_count(r) for r in recorder.records_for(key)] == [1, 2]
        assert stack.delivery(FUNCTION.name).failed_invocations == failed_before + 1

    def test_after_max_receives_a_message_goes_to_the_dead_letter_queue(
        self, stack: LocalStack, recorder: RecordingHandler
    ) -> None:
        key = _key("always-fail.csv")
        _put(stack, key)
        stack.wait_for_queues(TIMEOUT)
        records = recorder.records_for(key)
        assert [receive_count(r) for r in records] == list(range(1, QUEUE.max_receive_count + 1))
        [dead] = _dead_letters(stack)
        assert dead["MessageId"] == records[0]["messageId"]
        assert key in s3_keys({"body": dead["Body"]})

    def test_an_aws_cli_upload_is_delivered(
        self, stack: LocalStack, recorder: RecordingHandler, tmp_path: Path
    ) -> None:
        aws = shutil.which("aws")
        if aws is None:
            pytest.skip("the AWS CLI (`aws`) is not installed: cannot test a partner's `aws s3 cp`")
        source = tmp_path / "earn.csv"
        source.write_text("card_code,points\n")
        key = _key("cli-earn.csv")
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYTHON"))}
        env.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            }
        )
        command = [
            aws,
            "--endpoint-url",
            stack.aws_endpoint_url,
            "--region",
            stack.region,
            "s3",
            "cp",
            str(source),
            f"s3://{stack.bucket_name(BUCKET)}/{key}",
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        assert done.returncode == 0, done.stderr
        stack.wait_for_queues(TIMEOUT)
        [record] = recorder.records_for(key)
        assert receive_count(record) == 1


def test_the_wiring_delay_on_request_and_a_prompt_stop() -> None:
    recorder = RecordingHandler()
    with pytest.raises(ValueError, match="not in the wiring"):
        LocalStack.start(handlers={"NoSuchFunction": recorder})
    stack = LocalStack.start(handlers={FUNCTION.name: recorder}, delivery_delay_s=None)
    try:
        sqs = stack.client("sqs")
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.queue(QUEUE.name).url, AttributeNames=["DelaySeconds"]
        )
        assert int(attributes["Attributes"]["DelaySeconds"]) == QUEUE.delivery_delay_s
        if QUEUE.delivery_delay_s > 1:
            with pytest.raises(TimeoutError, match="not drained"):
                stack.wait_for_queues(timeout=0.3)  # the s3:TestEvent waits too
            assert recorder.events == []
    finally:
        started = time.monotonic()
        stack.stop()
        assert time.monotonic() - started < 5
