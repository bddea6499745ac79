"""Data access for merchants and merchant groups (one item collection per loyalty group)."""

from __future__ import annotations

from loyalty_engine.instruments.merchants import Merchant, MerchantGroup
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.errors import Conflict, InvalidRequest
from loyalty_engine.kernel.item_access import ConditionsFailed, ItemTable, new_or_version
from loyalty_engine.kernel.records import item


class MerchantStore(ItemTable):
    def merchant_group(self, group: str, merchant_group_id: str) -> MerchantGroup | None:
        values = self.get(keys.merchants_pk(group), keys.merchant_group_sk(merchant_group_id))
        return MerchantGroup.model_validate(values) if values else None

    def put_merchant_group(self, group: str, merchant_group: MerchantGroup) -> None:
        sk = keys.merchant_group_sk(merchant_group.merchant_group_id)
        self.put(item(keys.merchants_pk(group), sk, "merchant_group", merchant_group.model_dump(mode="json")))

    def existing_merchant_groups(self, group: str, ids: list[str]) -> set[str]:
        pk = keys.merchants_pk(group)
        found = batch_get(self._client, self._table, [(pk, keys.merchant_group_sk(i)) for i in ids])
        return {values["merchant_group_id"] for values in found.values()}

    def merchant_groups_page(
        self, group: str, limit: int, cursor: str | None
    ) -> tuple[list[MerchantGroup], str | None]:
        """One page of the group's merchant groups, in id order (Query `MG#`), and the next cursor."""
        prefix = keys.merchant_group_sk("")
        values, next_cursor = prefix_page(
            self._client, self._table, keys.merchants_pk(group), prefix, limit, cursor, max_length=80
        )
        return [MerchantGroup.model_validate(value) for value in values], next_cursor

    def merchants_page(self, group: str, limit: int, cursor: str | None) -> tuple[list[Merchant], str | None]:
        """One page of the group's merchants, in id order (Query `M#`, which `MG#` does not begin
        with), and the next cursor."""
        prefix = keys.merchant_sk("")
        values, next_cursor = prefix_page(
            self._client, self._table, keys.merchants_pk(group), prefix, limit, cursor, max_length=80
        )
        return [Merchant.model_validate(value) for value in values], next_cursor

    def merchant(self, group: str, merchant_id: str) -> Merchant | None:
        values = self.get(keys.merchants_pk(group), keys.merchant_sk(merchant_id))
        return Merchant.model_validate(values) if values else None

    def merchants_in(self, group: str, merchant_group_id: str) -> list[Merchant]:
        merchants = [Merchant.model_validate(v) for v in self.query(keys.merchants_pk(group), "M#")]
        return [m for m in merchants if m.belongs_to(merchant_group_id)]

    def put_merchant(
        self, group: str, merchant: Merchant, previous: Merchant | None, groups_checked: list[str]
    ) -> bool:
        """Create or replace a merchant, claim its store id (unique in the loyalty group), and
        check in the same transaction that its merchant groups exist. False: the merchant is
        no longer as read (`previous`): the caller reads it again."""
        pk = keys.merchants_pk(group)
        data = merchant.model_dump(mode="json")
        condition = new_or_version(None if previous is None else previous.version)
        actions = [
            self.put_action(item(pk, keys.merchant_sk(merchant.merchant_id), "merchant", data), condition),
            self.put_action(
                item(
                    pk,
                    keys.store_claim_sk(merchant.store_id),
                    "store_claim",
                    {"merchant_id": merchant.merchant_id},
                ),
                {
                    "ConditionExpression": "attribute_not_exists(merchant_id) OR merchant_id = :m",
                    "ExpressionAttributeValues": {":m": {"S": merchant.merchant_id}},
                },
            ),
        ]
        if previous is not None and previous.store_id != merchant.store_id:
            actions.append(self.delete_action(pk, keys.store_claim_sk(previous.store_id)))
        first_check = len(actions)
        for merchant_group_id in groups_checked:
            actions.append(
                self.check_action(
                    pk,
                    keys.merchant_group_sk(merchant_group_id),
                    {"ConditionExpression": "attribute_exists(merchant_group_id)"},
                )
            )
        try:
            self.transact(actions)
        except ConditionsFailed as failed:
            if 1 in failed.failed:
                raise Conflict(
                    f"store {merchant.store_id!r} belongs to another merchant",
                    code="store_id_taken",
                    details=[{"field": "store_id", "reason": "store_id_taken"}],
                ) from None
            missing = [groups_checked[i - first_check] for i in failed.failed if i >= first_check]
            if missing:  # 422, as for a series' or a customer's unknown groups
                raise InvalidRequest(
                    f"unknown merchant groups {missing}",
                    code="unknown_merchant_group",
                    details=[
                        {"field": "merchant_groups", "reason": "unknown_merchant_group", "value": m}
                        for m in missing
                    ],
                ) from None
            return False
        return True
