"""kernel.batch.batch_get on moto through the engine's client, whose BatchGetItem answers skip
botocore's parser (`kernel.dynamo._items_as_sent`): every kind of value reads back as written,
absent keys are absent, and an error answer is parsed as usual (its code kept)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.dynamo import client, error_code, to_item
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


def test_an_error_answer_is_parsed_as_usual(table):
    with pytest.raises(ClientError) as raised:
        batch_get(client(), "no-such-table-" + os.environ["TABLE_NAME"], [("G#demo#X", "ONE")])
    assert error_code(raised.value) == "ResourceNotFoundException"
