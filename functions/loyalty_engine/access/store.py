"""Data access for a loyalty group's partition: the group and its API keys."""

from __future__ import annotations

from typing import Any

from loyalty_engine.access.models import ApiKey, LoyaltyGroup
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.errors import Conflict
from loyalty_engine.kernel.item_access import NEW_ONLY, ItemTable
from loyalty_engine.kernel.records import item


class GroupStore:
    def __init__(self, client: Any, table: str):
        self._items = ItemTable(client, table)

    def create_group(self, group: LoyaltyGroup) -> bool:
        """False when the group already exists (left unchanged)."""
        pk = keys.group_pk(group.group_id)
        return self._items.put(item(pk, keys.GROUP_SK, "group", group.model_dump(mode="json")), NEW_ONLY)

    def get_group(self, group: str) -> LoyaltyGroup | None:
        values = self._items.get(keys.group_pk(group), keys.GROUP_SK, consistent=True)
        return LoyaltyGroup.model_validate(values) if values else None

    def get_api_key(self, group: str, key_id: str) -> ApiKey | None:
        values = self._items.get(keys.group_pk(group), keys.key_sk(key_id), consistent=False)
        return ApiKey.model_validate(values) if values else None

    def put_api_key(self, key: ApiKey) -> None:
        pk = keys.group_pk(key.group_id)
        values = item(pk, keys.key_sk(key.key_id), "api_key", key.model_dump(mode="json"))
        if not self._items.put(values, NEW_ONLY):
            raise Conflict(f"API key {key.key_id} already exists")
