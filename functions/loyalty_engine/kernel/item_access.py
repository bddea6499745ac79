"""The plain item operations the catalog-like stores share (merchants, customers, series,
instruments): a get, a conditional put, a transaction whose failed conditions are named."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import cancellation_codes, error_code, from_item, map_error, to_item
from loyalty_engine.kernel.records import data_of
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY, Index

NEW_ONLY: dict[str, Any] = {
    "ConditionExpression": "attribute_not_exists(#pk)",
    "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
}


def at_version(version: int) -> dict[str, Any]:
    """The condition of a replacement: the stored item is still the version that was read."""
    return {
        "ConditionExpression": "#v = :v",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":v": {"N": str(version)}},
    }


def new_or_version(version: int | None) -> dict[str, Any]:
    return NEW_ONLY if version is None else at_version(version)


def newest_first(table: str, pk: str, limit: int, index: Index | None = None) -> dict[str, Any]:
    """Query parameters: one partition of the table (or of `index`), newest sort key first, a
    page of `limit` items (the caller adds its `ExclusiveStartKey`)."""
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": index.partition_key if index else PARTITION_KEY},
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if index:
        params["IndexName"] = index.name
    return params


class ConditionsFailed(Exception):
    """A transaction was cancelled because the conditions of these actions (by index) failed."""

    def __init__(self, failed: list[int]):
        super().__init__(failed)
        self.failed = failed


class ItemTable:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    @staticmethod
    def key(pk: str, sk: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}

    def get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table, Key=self.key(pk, sk), ConsistentRead=consistent
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        raw = response.get("Item")
        return data_of(from_item(raw)) if raw else None

    def query(self, pk: str, prefix: str, limit: int | None = None) -> list[dict[str, Any]]:
        """Every item of a partition under a sort-key prefix (all pages), as plain values."""
        return list(self.query_by_sk(pk, prefix, limit).values())

    def query_by_sk(self, pk: str, prefix: str, limit: int | None = None) -> dict[str, dict[str, Any]]:
        """Every item of a partition under a sort-key prefix (all pages), by sort key.

        An empty prefix reads the whole partition (DynamoDB refuses an empty key value in
        `begins_with`)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        if prefix:
            params["KeyConditionExpression"] += " AND begins_with(#sk, :prefix)"
            params["ExpressionAttributeNames"]["#sk"] = SORT_KEY
            params["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        if limit:
            params["Limit"] = limit
        values: dict[str, dict[str, Any]] = {}
        while True:
            try:
                response = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in response.get("Items", []):
                values[raw[SORT_KEY]["S"]] = data_of(from_item(raw))
            last = response.get("LastEvaluatedKey")
            if not last or (limit and len(values) >= limit):
                return values
            params["ExclusiveStartKey"] = last

    def put_action(self, values: dict[str, Any], condition: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": to_item(values), **(condition or {})}}

    def delete_action(self, pk: str, sk: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self._table, "Key": self.key(pk, sk)}}

    def check_action(self, pk: str, sk: str, condition: dict[str, Any]) -> dict[str, Any]:
        return {"ConditionCheck": {"TableName": self._table, "Key": self.key(pk, sk), **condition}}

    def put(self, values: dict[str, Any], condition: dict[str, Any] | None = None) -> bool:
        """False when the condition failed."""
        try:
            self._client.put_item(TableName=self._table, Item=to_item(values), **(condition or {}))
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """Write atomically; ConditionsFailed names the actions whose condition failed."""
        if len(actions) == 1 and "Put" in actions[0]:
            if not self.put_raw(actions[0]["Put"]):
                raise ConditionsFailed([0])
            return
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                codes = cancellation_codes(error)
                failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
                if failed:
                    raise ConditionsFailed(failed) from error
                if "TransactionConflict" in codes:
                    raise ConditionsFailed([]) from error
            raise (map_error(error) or error) from error

    def put_raw(self, put: dict[str, Any]) -> bool:
        try:
            self._client.put_item(**put)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True
