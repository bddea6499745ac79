"""Data access for a loyalty group's partition: the group and its API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.access.models import ApiKey, GroupSettings, LoyaltyGroup
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.dynamo import from_item, map_error, serialize
from loyalty_engine.kernel.errors import Conflict
from loyalty_engine.kernel.item_access import NEW_ONLY, ItemTable
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import TYPE_ATTRIBUTE


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

    def get_api_key(self, group: str, key_id: str) -> ApiKey | None:
        values = self._items.get(keys.group_pk(group), keys.key_sk(key_id), consistent=False)
        return ApiKey.model_validate(values) if values else None

    def put_api_key(self, key: ApiKey) -> None:
        pk = keys.group_pk(key.group_id)
        values = item(pk, keys.key_sk(key.key_id), "api_key", key.model_dump(mode="json"))
        if not self._items.put(values, NEW_ONLY):
            raise Conflict(f"API key {key.key_id} already exists")
