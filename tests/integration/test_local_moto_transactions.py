"""The local stack's moto rolls back a cancelled TransactWriteItems item by item
(`local_stack/moto_transactions.py`): the same state and answers as moto's whole-table copy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.moto_transactions import item_rollback_transactions
from loyalty_engine.kernel.table import create_table_params
from tests.support.events import streams_client

TABLE = "moto-transactions"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    item_rollback_transactions()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(**create_table_params(TABLE))
        yield client


def stream_records(client: Any) -> list[dict[str, Any]]:
    streams = streams_client()
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "demo#m"}, "sk": {"S": sk}}


def put(sk: str, **attrs: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {**key(sk), **attrs}}}


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(dynamodb) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
    before = stream_records(dynamodb)
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                put("b", n={"N": "2"}),
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("a"),
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("c"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("b"))
    assert dynamodb.get_item(TableName=TABLE, Key=key("a"))["Item"]["n"] == {"N": "1"}
    assert stream_records(dynamodb) == before


def test_a_transaction_that_passes_is_applied_and_streamed(dynamodb) -> None:
    dynamodb.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
    dynamodb.transact_write_items(
        TransactItems=[put("b", n={"N": "2"}), {"Delete": {"TableName": TABLE, "Key": key("a")}}]
    )
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("a"))
    assert dynamodb.get_item(TableName=TABLE, Key=key("b"))["Item"]["n"] == {"N": "2"}
    assert [record["eventName"] for record in stream_records(dynamodb)] == ["INSERT", "INSERT", "REMOVE"]
