"""Data access for customers (a partition each: the customer and its links) and customer groups."""

from __future__ import annotations

from typing import Any

from loyalty_engine.customers.models import Customer, CustomerGroup, CustomerLinks
from loyalty_engine.kernel import keys, search_keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import serialize
from loyalty_engine.kernel.errors import InvalidRequest, NotFound
from loyalty_engine.kernel.item_access import NEW_ONLY, ConditionsFailed, ItemTable
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import PARTITION_KEY

MAX_ACTIONS = 100  # DynamoDB's limit of actions in one transaction


class StaleCustomer(Exception):
    """The customer, or the card's link, changed since it was read: read again and retry."""


def _version_condition(version: int | None) -> dict[str, Any]:
    """The item does not exist (None), or is at `version` (0: written before versions)."""
    if version is None:
        return {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": "pk"}}
    if version == 0:
        return {
            "ConditionExpression": "attribute_exists(#pk) AND attribute_not_exists(#v)",
            "ExpressionAttributeNames": {"#pk": "pk", "#v": "version"},
        }
    return {
        "ConditionExpression": "#v = :v",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":v": {"N": str(version)}},
    }


class CustomerStore(ItemTable):
    def customer_group(self, group: str, customer_group_id: str) -> CustomerGroup | None:
        values = self.get(keys.customer_groups_pk(group), keys.customer_group_sk(customer_group_id))
        return CustomerGroup.model_validate(values) if values else None

    def put_customer_group(self, group: str, customer_group: CustomerGroup) -> None:
        sk = keys.customer_group_sk(customer_group.customer_group_id)
        self.put(
            item(keys.customer_groups_pk(group), sk, "customer_group", customer_group.model_dump(mode="json"))
        )

    def customer_groups_page(
        self, group: str, limit: int, cursor: str | None
    ) -> tuple[list[CustomerGroup], str | None]:
        """One page of the group's customer groups, in id order (Query `CG#`), and the next cursor."""
        pk = keys.customer_groups_pk(group)
        prefix = keys.customer_group_sk("")
        values, next_cursor = prefix_page(self._client, self._table, pk, prefix, limit, cursor, max_length=80)
        return [CustomerGroup.model_validate(value) for value in values], next_cursor

    def existing_customer_groups(self, group: str, ids: list[str]) -> set[str]:
        pk = keys.customer_groups_pk(group)
        found = batch_get(self._client, self._table, [(pk, keys.customer_group_sk(i)) for i in ids])
        return {values["customer_group_id"] for values in found.values()}

    def customer(self, group: str, customer_id: str) -> tuple[Customer, CustomerLinks] | None:
        """The customer and its links, in one Query of its partition."""
        values = self.query_by_sk(keys.customer_pk(group, customer_id), "")
        found = values.get(keys.CUSTOMER_SK)
        if found is None:
            return None
        cards = sorted(
            v["card_code"] for sk, v in values.items() if sk.startswith(keys.customer_card_link_sk(""))
        )
        numbers = sorted(
            v["number"] for sk, v in values.items() if sk.startswith(keys.customer_instrument_link_sk(""))
        )
        return Customer.model_validate(found), CustomerLinks(card_codes=cards, instruments=numbers)

    def _directory_entry(self, group: str, customer_id: str) -> dict[str, Any]:
        return self.put_action(
            item(
                keys.customers_pk(group),
                keys.customer_entry_sk(customer_id),
                "customer_entry",
                {"customer_id": customer_id},
            )
        )

    def keep_customer(self, group: str, customer: Customer) -> None:
        """A replayed save: the customer stays as it is (same version), and its directory entry is
        written again (a customer saved before the directory existed joins it), if the customer
        is still at its version. ConditionsFailed: it changed meanwhile (read again)."""
        pk = keys.customer_pk(group, customer.customer_id)
        check = self.check_action(pk, keys.CUSTOMER_SK, _version_condition(customer.version))
        self.transact([check, self._directory_entry(group, customer.customer_id)])

    def put_customer(
        self, group: str, customer: Customer, previous: Customer | None, card_codes: list[str]
    ) -> None:
        """Create or replace a customer (if its version is still `previous`'s), keep its customer
        groups' member lists in step, and copy its groups onto the member item of each linked
        card (the earn reads them there), all in one transaction. ConditionsFailed: the
        customer or its links changed meanwhile (read again)."""
        pk = keys.customer_pk(group, customer.customer_id)
        condition = _version_condition(previous.version if previous else None)
        actions = [
            self.put_action(
                item(pk, keys.CUSTOMER_SK, "customer", customer.model_dump(mode="json")), condition
            )
        ]
        # its entry in the group's directory (written again on every save: a customer saved
        # before the directory existed joins it at its next save)
        actions.append(self._directory_entry(group, customer.customer_id))
        actions += self._email_lookup_actions(group, customer, previous)
        before = set(previous.customer_groups) if previous else set()
        after = set(customer.customer_groups)
        for customer_group_id in sorted(after - before):
            actions.append(
                self.put_action(
                    item(
                        keys.customer_group_members_pk(group, customer_group_id),
                        keys.customer_group_member_sk(customer.customer_id),
                        "customer_group_member",
                        {"customer_id": customer.customer_id},
                    )
                )
            )
        for customer_group_id in sorted(before - after):
            actions.append(
                self.delete_action(
                    keys.customer_group_members_pk(group, customer_group_id),
                    keys.customer_group_member_sk(customer.customer_id),
                )
            )
        if after != before:
            actions += [
                self._member_groups_action(group, card, customer.customer_groups) for card in card_codes
            ]
        if len(actions) > MAX_ACTIONS:
            raise InvalidRequest(
                f"this change touches {len(actions)} items, more than {MAX_ACTIONS} at once: "
                "change fewer customer groups at a time",
                code="too_many_changes",
                details=[{"field": "customer_groups", "reason": "too_many_changes"}],
            )
        self.transact(actions)

    def _email_lookup_actions(
        self, group: str, customer: Customer, previous: Customer | None
    ) -> list[dict[str, Any]]:
        """The customer's e-mail lookup of the member search: put under the new e-mail, removed
        from under the old one when it changes (in the customer's save transaction)."""
        pk = search_keys.email_index_pk(group)
        old = (
            search_keys.email_lookup_sk(previous.email, customer.customer_id)
            if previous and previous.email
            else None
        )
        new = search_keys.email_lookup_sk(customer.email, customer.customer_id) if customer.email else None
        actions = []
        if old is not None and old != new:
            actions.append(self.delete_action(pk, old))
        if new is not None:
            data = {"customer_id": customer.customer_id}
            actions.append(self.put_action(item(pk, new, "email_lookup", data)))
        return actions

    def _member_groups_action(self, group: str, card_code: str, customer_groups: list[str]) -> dict[str, Any]:
        """The member item's copy of its customer's groups; its version moves, so that a points
        write that read the member before loses its race and reads again."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": self.key(keys.member_pk(group, card_code), keys.MEMBER_SK),
                "UpdateExpression": "SET #groups = :groups ADD #v :one",
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#groups": "customer_groups", "#v": "version", "#pk": "pk"},
                "ExpressionAttributeValues": {":groups": serialize(customer_groups), ":one": {"N": "1"}},
            }
        }

    def _bump_action(self, group: str, customer_id: str, version: int | None) -> dict[str, Any]:
        """The customer's version moves (its links change); None: only if it exists."""
        condition: dict[str, Any] = (
            {
                "ConditionExpression": "attribute_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": "pk", "#v": "version"},
            }
            if version is None
            else _version_condition(version)
        )
        names = {**condition.get("ExpressionAttributeNames", {}), "#v": "version"}
        return {
            "Update": {
                "TableName": self._table,
                "Key": self.key(keys.customer_pk(group, customer_id), keys.CUSTOMER_SK),
                "UpdateExpression": "ADD #v :one",
                **condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    **condition.get("ExpressionAttributeValues", {}),
                    ":one": {"N": "1"},
                },
            }
        }

    def customer_group_members(
        self, group: str, customer_group_id: str, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """One page of a customer group's customer ids, in id order, and the next page's cursor."""
        pk = keys.customer_group_members_pk(group, customer_group_id)
        prefix = keys.customer_group_member_sk("")
        values, next_cursor = prefix_page(self._client, self._table, pk, prefix, limit, cursor, max_length=80)
        return [str(value["customer_id"]) for value in values], next_cursor

    def customers_page(self, group: str, limit: int, cursor: str | None) -> tuple[list[Customer], str | None]:
        """One page of the group's customers, in id order: a Query of the directory (`CU#`), then
        one BatchGetItem of the page's customer items; and the next page's cursor."""
        pk = keys.customers_pk(group)
        prefix = keys.customer_entry_sk("")
        values, next_cursor = prefix_page(self._client, self._table, pk, prefix, limit, cursor, max_length=80)
        wanted = [(keys.customer_pk(group, str(v["customer_id"])), keys.CUSTOMER_SK) for v in values]
        found = batch_get(self._client, self._table, wanted) if wanted else {}
        return [Customer.model_validate(data_of(found[k])) for k in wanted if k in found], next_cursor

    def customers_by_email(
        self, group: str, email: str, limit: int, cursor: str | None
    ) -> tuple[list[Customer], str | None]:
        """One page of the group's customers with this e-mail (trimmed, any case), in id order: a
        Query of its lookups, then one BatchGetItem; a lookup whose customer's e-mail has since
        changed (see `search.backfill`) is left out."""
        prefix = search_keys.email_lookup_prefix(email)
        pk = search_keys.email_index_pk(group)
        values, next_cursor = prefix_page(
            self._client, self._table, pk, prefix, limit, cursor, max_length=len(prefix) + 80
        )
        wanted = [(keys.customer_pk(group, str(v["customer_id"])), keys.CUSTOMER_SK) for v in values]
        found = batch_get(self._client, self._table, wanted) if wanted else {}
        customers = [Customer.model_validate(data_of(found[k])) for k in wanted if k in found]
        same = search_keys.normalised_email(email)
        return [
            c for c in customers if c.email and search_keys.normalised_email(c.email) == same
        ], next_cursor

    def link_instrument_actions(self, group: str, customer_id: str, number: str) -> list[dict[str, Any]]:
        """Transaction actions: the customer's link to an instrument, and the customer's version
        moved on condition that it (which the caller read) is still there and not erased: an
        erasure committed since fails the transaction, and the caller reads again and refuses;
        an erasure that read the customer's links before this one loses its race on the version
        and reads them again (so it blanks this instrument too)."""
        pk = keys.customer_pk(group, customer_id)
        return [
            self.put_action(
                item(pk, keys.customer_instrument_link_sk(number), "customer_link", {"number": number})
            ),
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self.key(pk, keys.CUSTOMER_SK),
                    "UpdateExpression": "ADD #v :one",
                    "ConditionExpression": "attribute_exists(#pk) AND "
                    "(attribute_not_exists(#erased) OR #erased = :no)",
                    "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#erased": "erased", "#v": "version"},
                    "ExpressionAttributeValues": {":no": {"BOOL": False}, ":one": {"N": "1"}},
                }
            },
        ]

    def unlink_instrument_action(self, group: str, customer_id: str, number: str) -> dict[str, Any]:
        """Transaction action: drop a customer's link to an instrument (it moved to another
        customer, or to none)."""
        return self.delete_action(
            keys.customer_pk(group, customer_id), keys.customer_instrument_link_sk(number)
        )

    def link_card(
        self, group: str, customer: Customer, card_code: str, previous: tuple[str, int] | None
    ) -> None:
        """Link a member card to a customer (one customer per card), atomically with the
        member's pointer and its copy of the customer's groups; the customer must still be at
        the version read, and `previous` (the customer the card leaves, with its version) too."""
        customer_id = customer.customer_id
        customer_pk = keys.customer_pk(group, customer_id)
        member_pk = keys.member_pk(group, card_code)
        pointer_condition = (
            NEW_ONLY
            if previous is None
            else {
                "ConditionExpression": "customer_id = :c",
                "ExpressionAttributeValues": {":c": {"S": previous[0]}},
            }
        )
        actions = [
            self._member_groups_action(group, card_code, customer.customer_groups),
            self._bump_action(group, customer_id, customer.version),
            self.put_action(
                item(member_pk, keys.CUSTOMER_LINK_SK, "customer_link", {"customer_id": customer_id}),
                pointer_condition,
            ),
            self.put_action(
                item(
                    customer_pk,
                    keys.customer_card_link_sk(card_code),
                    "customer_link",
                    {"card_code": card_code},
                )
            ),
        ]
        if previous is not None:
            actions.append(self._bump_action(group, previous[0], previous[1]))
            actions.append(
                self.delete_action(
                    keys.customer_pk(group, previous[0]), keys.customer_card_link_sk(card_code)
                )
            )
        try:
            self.transact(actions)
        except ConditionsFailed as failed:
            if 0 in failed.failed:
                raise NotFound(f"member {card_code!r} not found", code="member_not_found") from None
            raise StaleCustomer() from None

    def card_link(self, group: str, card_code: str) -> str | None:
        values = self.get(keys.member_pk(group, card_code), keys.CUSTOMER_LINK_SK)
        return str(values["customer_id"]) if values else None
