"""The table in the template is the one `loyalty_engine.kernel.table` describes."""

from __future__ import annotations

import pytest
from infra_testing import Synthesized, wiring_functions

from loyalty_engine.kernel import table as table_shape

pytestmark = pytest.mark.infra


def only_table(synthesized: Synthesized) -> dict:
    tables = synthesized.of_type("AWS::DynamoDB::Table")
    assert len(tables) == 1
    return next(iter(tables.values()))


def test_keys_and_indexes_match_table_module(prod: Synthesized) -> None:
    expected = table_shape.create_table_params("unused")
    properties = only_table(prod)["Properties"]

    assert properties["KeySchema"] == expected["KeySchema"]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert [
        {key: gsi[key] for key in ("IndexName", "KeySchema", "Projection")}
        for gsi in properties["GlobalSecondaryIndexes"]
    ] == expected["GlobalSecondaryIndexes"]
    assert properties["BillingMode"] == expected["BillingMode"] == "PAY_PER_REQUEST"


def test_ttl_pitr_and_encryption(prod: Synthesized) -> None:
    properties = only_table(prod)["Properties"]
    assert properties["TimeToLiveSpecification"] == {
        "AttributeName": table_shape.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert (
        table_shape.enable_ttl_params("x")["TimeToLiveSpecification"] == properties["TimeToLiveSpecification"]
    )
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_prod_table_is_protected_and_retained(prod: Synthesized) -> None:
    table = only_table(prod)
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_dev_table_can_be_deleted(dev: Synthesized) -> None:
    table = only_table(dev)
    assert table["Properties"].get("DeletionProtectionEnabled", False) is False
    assert table["DeletionPolicy"] == "Delete"


def test_table_name_is_output_and_given_to_every_function(prod: Synthesized) -> None:
    (table_id,) = prod.of_type("AWS::DynamoDB::Table")
    assert prod.template_json["Outputs"]["TableName"]["Value"] == {"Ref": table_id}
    functions = wiring_functions(prod)
    assert functions
    for _, properties in functions.values():
        assert properties["Environment"]["Variables"]["TABLE_NAME"] == {"Ref": table_id}
