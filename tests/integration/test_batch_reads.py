"""Reads on moto through the engine's client, whose answers skip botocore's parser
(`kernel.dynamo._items_as_sent`): kernel.batch.batch_get, GetItem, Query (paged), Scan and
TransactGetItems give back every kind of value as written, absent keys are absent, a page's
LastEvaluatedKey leads to the next page, and an error answer is parsed as usual (its code kept)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.dynamo import client, error_code, from_item, to_item
from tests.support.aws import fresh_caches, moto_table


@pytest.fixture
def table():
    fresh_caches()
    with moto_table() as created:
        yield created
    fresh_caches()


def test_every_kind_of_value_reads_back_as_written(table):
    _, name = table
    values = {
        "pk": "G#demo#X",
        "sk": "ONE",
        "text": "é ✓",
        "whole": 12345678901234567890,
        "exact": Decimal("0.10"),
        "packed": b"\x78\x9c\x00\xff",
        "flag": True,
        "nothing": None,
        "list": [1, "two", {"three": Decimal("3.5")}],
        "map": {"a": b"\x01", "b": [False]},
    }
    client().put_item(TableName=name, Item=to_item(values))
    found = batch_get(client(), name, [("G#demo#X", "ONE"), ("G#demo#X", "MISSING")])
    assert found == {("G#demo#X", "ONE"): values}
    # the answer as sent: binary values still base64 text (botocore's parser would decode them)
    answer = client().batch_get_item(
        RequestItems={name: {"Keys": [{"pk": {"S": "G#demo#X"}, "sk": {"S": "ONE"}}]}}
    )
    assert answer["Responses"][name][0]["packed"] == {"B": "eJwA/w=="}
    projected = batch_get(client(), name, [("G#demo#X", "ONE")], projection=("packed",))
    assert projected == {("G#demo#X", "ONE"): {"pk": "G#demo#X", "sk": "ONE", "packed": b"\x78\x9c\x00\xff"}}


def test_every_read_gives_back_what_was_written_and_pages_by_its_keys(table):
    _, name = table
    written = [
        {"pk": "G#demo#Q", "sk": f"I#{n}", "packed": bytes([n, 0, 255]), "n": n, "m": {"b": b"\x01"}}
        for n in range(5)
    ]
    for values in written:
        client().put_item(TableName=name, Item=to_item(values))
    key = {"pk": {"S": "G#demo#Q"}, "sk": {"S": "I#3"}}
    one = client().get_item(TableName=name, Key=key)["Item"]
    assert one["packed"] == {"B": "AwD/"}  # as sent: botocore's parser would give bytes
    assert from_item(one) == written[3]
    assert "Item" not in client().get_item(TableName=name, Key={**key, "sk": {"S": "I#9"}})
    (got,) = client().transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": key}}])[
        "Responses"
    ]
    assert from_item(got["Item"]) == written[3]
    pages, params = (
        [],
        {
            "TableName": name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "G#demo#Q"}},
            "Limit": 2,
        },
    )
    while True:
        answer = client().query(**params)
        pages.append([from_item(item) for item in answer["Items"]])
        assert all(isinstance(item["packed"]["B"], str) for item in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            break
        params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [item for page in pages for item in page] == written
    scanned = client().scan(TableName=name)["Items"]
    assert sorted((from_item(item) for item in scanned), key=lambda i: i["n"]) == written


def test_an_error_answer_is_parsed_as_usual(table):
    with pytest.raises(ClientError) as raised:
        batch_get(client(), "no-such-table-" + os.environ["TABLE_NAME"], [("G#demo#X", "ONE")])
    assert error_code(raised.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        client().query(
            TableName=os.environ["TABLE_NAME"],
            KeyConditionExpression="nokey = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert error_code(raised.value) == "ValidationException"
