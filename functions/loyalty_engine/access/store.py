"""Data access for a loyalty group's partition: the group and its API keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.access.models import ApiKey, GroupSettings, KeyUse, LoyaltyGroup
from loyalty_engine.access.quotas import GroupQuota
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import from_item, map_error, serialize
from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, NotFound
from loyalty_engine.kernel.item_access import NEW_ONLY, ItemTable, at_version
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY, TYPE_ATTRIBUTE

# Version 0: a key never changed since created, or stored before keys had a version.
_FIRST_VERSION = {
    "ConditionExpression": "attribute_exists(#pk) AND (attribute_not_exists(#v) OR #v = :v)",
    "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#v": "version"},
    "ExpressionAttributeValues": {":v": {"N": "0"}},
}


class GroupStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table
        self._items = ItemTable(client, table)

    def create_group(self, group: LoyaltyGroup) -> bool:
        """False when the group already exists (left unchanged)."""
        pk = keys.group_pk(group.group_id)
        return self._items.put(item(pk, keys.GROUP_SK, "group", group.model_dump(mode="json")), NEW_ONLY)

    def get_group(self, group: str) -> LoyaltyGroup | None:
        values = self._items.get(keys.group_pk(group), keys.GROUP_SK, consistent=True)
        return LoyaltyGroup.model_validate(values) if values else None

    def put_settings(self, group: str, settings: GroupSettings, now: datetime) -> LoyaltyGroup:
        """Replace the group's settings (one UpdateItem); a group item not there yet is created
        with them. Returns the group as stored."""
        values = {
            ":settings": settings.model_dump(mode="json"),
            ":group": group,
            ":now": now.isoformat(),
            ":type": "group",
        }
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=ItemTable.key(keys.group_pk(group), keys.GROUP_SK),
                UpdateExpression=(
                    "SET #settings = :settings, #group = if_not_exists(#group, :group), "
                    "#name = if_not_exists(#name, :group), #created = if_not_exists(#created, :now), "
                    "#type = if_not_exists(#type, :type)"
                ),
                ExpressionAttributeNames={
                    "#settings": "settings",
                    "#group": "group_id",
                    "#name": "name",
                    "#created": "created_at",
                    "#type": TYPE_ATTRIBUTE,
                },
                ExpressionAttributeValues={name: serialize(value) for name, value in values.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        return LoyaltyGroup.model_validate(data_of(from_item(answer["Attributes"])))

    def group_ids(self) -> Iterator[str]:
        """Every group's id: a keys-only Scan of the whole table, kept to the group items. Only
        `loyalty-admin quotas sync` reads it, once, for the groups made before every new group
        got its own usage key (they are in no index); the API never does."""
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            ProjectionExpression="#pk",
            FilterExpression="#sk = :group",
            ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            ExpressionAttributeValues={":group": {"S": keys.GROUP_SK}},
        )
        for page in pages:
            for found in page.get("Items", []):
                yield found[PARTITION_KEY]["S"].removeprefix(keys.group_pk(""))

    def get_quota(self, group: str) -> GroupQuota | None:
        """The group's stored quota (an eventually consistent read of that attribute only: the
        authorizer's, once per cached key)."""
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=ItemTable.key(keys.group_pk(group), keys.GROUP_SK),
                ProjectionExpression="#quota",
                ExpressionAttributeNames={"#quota": "quota"},
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        stored = from_item(answer.get("Item") or {}).get("quota")
        return GroupQuota.model_validate(stored) if stored else None

    def put_quota(self, group: str, quota: GroupQuota) -> None:
        """Replace the group's quota (one UpdateItem on an existing group; 404 group_not_found otherwise)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ItemTable.key(keys.group_pk(group), keys.GROUP_SK),
                UpdateExpression="SET #quota = :quota",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#quota": "quota", "#pk": PARTITION_KEY},
                ExpressionAttributeValues={":quota": serialize(quota.model_dump(mode="json"))},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise NotFound(f"loyalty group {group!r} not found", code="group_not_found") from None
            raise (map_error(error) or error) from error

    def get_api_key(self, group: str, key_id: str) -> ApiKey | None:
        values = self._items.get(keys.group_pk(group), keys.key_sk(key_id), consistent=False)
        return ApiKey.model_validate(values) if values else None

    def get_api_key_fresh(self, group: str, key_id: str) -> ApiKey | None:
        values = self._items.get(keys.group_pk(group), keys.key_sk(key_id), consistent=True)
        return ApiKey.model_validate(values) if values else None

    def record_key_use(self, use: KeyUse) -> None:
        """Mark the key used at `use.at` (and its previous secret, when that was the one presented):
        one UpdateItem of those attributes only, the authorizer's single write. It leaves the key's
        version alone, so it never makes a rotation or a revocation retry; a key not stored (never
        created by this) is left as it is."""
        names = {"#pk": PARTITION_KEY, "#used": "last_used_at"}
        update = "SET #used = :at"
        if use.previous_secret:
            names["#previous"] = "previous_secret_last_used_at"
            update += ", #previous = :at"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=ItemTable.key(keys.group_pk(use.group_id), keys.key_sk(use.key_id)),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":at": serialize(use.at.isoformat())},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error

    def put_api_key(self, key: ApiKey) -> None:
        if not self.add_api_key(key):
            raise Conflict(f"API key {key.key_id} already exists")

    def add_api_key(self, key: ApiKey) -> bool:
        """False when a key with this id exists already (left unchanged)."""
        pk = keys.group_pk(key.group_id)
        values = item(pk, keys.key_sk(key.key_id), "api_key", key.model_dump(mode="json"))
        return self._items.put(values, NEW_ONLY)

    def replace_api_key(self, key: ApiKey, read_version: int) -> None:
        """Store the key's new state if the stored one is still the version read (409
        `concurrent_update` otherwise: another rotation or revocation came first)."""
        pk = keys.group_pk(key.group_id)
        values = item(pk, keys.key_sk(key.key_id), "api_key", key.model_dump(mode="json"))
        if not self._items.put(values, at_version(read_version) if read_version else _FIRST_VERSION):
            raise ConcurrentUpdate(f"API key {key.key_id} was changed meanwhile: retry")

    def api_keys_page(self, group: str, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
        """One page of the group's keys in key id order, and the next page's cursor."""
        values, next_cursor = prefix_page(
            self._client, self._table, keys.group_pk(group), keys.key_sk(""), limit, cursor
        )
        return [ApiKey.model_validate(value) for value in values], next_cursor
