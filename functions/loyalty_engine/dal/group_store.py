"""Data access for a loyalty group's partition: the group, its API keys and its programs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.dal import keys
from loyalty_engine.dal.dynamo import cancellation_codes, error_code, from_item, map_error, to_item
from loyalty_engine.dal.records import data_of, item
from loyalty_engine.domain.access import ApiKey, LoyaltyGroup
from loyalty_engine.domain.errors import Conflict
from loyalty_engine.domain.programs import Program
from loyalty_engine.table import PARTITION_KEY, SORT_KEY


class GroupStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def _get(self, pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}},
                ConsistentRead=consistent,
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        raw = response.get("Item")
        return data_of(from_item(raw)) if raw else None

    def _put(self, values: dict[str, Any], only_if_new: bool) -> bool:
        params: dict[str, Any] = {"TableName": self._table, "Item": to_item(values)}
        if only_if_new:
            params["ConditionExpression"] = "attribute_not_exists(#pk)"
            params["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
        try:
            self._client.put_item(**params)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True

    # groups and keys
    def create_group(self, group: LoyaltyGroup) -> bool:
        """False when the group already exists (left unchanged)."""
        pk = keys.group_pk(group.group_id)
        return self._put(item(pk, keys.GROUP_SK, "group", group.model_dump(mode="json")), only_if_new=True)

    def get_group(self, group: str) -> LoyaltyGroup | None:
        values = self._get(keys.group_pk(group), keys.GROUP_SK, consistent=True)
        return LoyaltyGroup.model_validate(values) if values else None

    def get_api_key(self, group: str, key_id: str) -> ApiKey | None:
        values = self._get(keys.group_pk(group), keys.key_sk(key_id))
        return ApiKey.model_validate(values) if values else None

    def put_api_key(self, key: ApiKey) -> None:
        pk = keys.group_pk(key.group_id)
        if not self._put(
            item(pk, keys.key_sk(key.key_id), "api_key", key.model_dump(mode="json")), only_if_new=True
        ):
            raise Conflict(f"API key {key.key_id} already exists")

    # programs
    def get_program(self, group: str, program_id: str, consistent: bool = False) -> Program | None:
        values = self._get(keys.group_pk(group), keys.program_sk(program_id), consistent=consistent)
        return Program.model_validate(values) if values else None

    def put_program(self, group: str, program: Program, previous: Program | None) -> None:
        """Create or replace a program and claim its name, unique within the group.

        The write is conditional on the program's version being the one read (`previous`),
        so of two concurrent replacements only one wins.
        """
        pk = keys.group_pk(group)
        program_put: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(
                item(pk, keys.program_sk(program.program_id), "program", program.model_dump(mode="json"))
            ),
        }
        if previous is None:
            program_put["ConditionExpression"] = "attribute_not_exists(#pk)"
            program_put["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
        else:
            program_put["ConditionExpression"] = "#v = :v"
            program_put["ExpressionAttributeNames"] = {"#v": "version"}
            program_put["ExpressionAttributeValues"] = {":v": {"N": str(previous.version)}}
        name_put = {
            "TableName": self._table,
            "Item": to_item(
                item(
                    pk, keys.program_name_sk(program.name), "program_name", {"program_id": program.program_id}
                )
            ),
            "ConditionExpression": "attribute_not_exists(#pk) OR program_id = :p",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":p": {"S": program.program_id}},
        }
        actions: list[dict[str, Any]] = [{"Put": program_put}, {"Put": name_put}]
        if previous is not None and keys.program_name_sk(previous.name) != keys.program_name_sk(program.name):
            actions.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {
                            PARTITION_KEY: {"S": pk},
                            SORT_KEY: {"S": keys.program_name_sk(previous.name)},
                        },
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                codes = cancellation_codes(error)
                if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                    raise Conflict(
                        f"another program of this group is already named {program.name!r}",
                        code="program_name_taken",
                        details=[{"field": "name", "reason": "program_name_taken"}],
                    ) from error
                if codes and codes[0] == "ConditionalCheckFailed":
                    raise Conflict(
                        "the program was changed by a concurrent request; read it and retry",
                        code="concurrent_update",
                    ) from error
            raise (map_error(error) or error) from error

    def get_record(self, group: str, sk: str) -> dict[str, Any] | None:
        return self._get(keys.group_pk(group), sk, consistent=True)
