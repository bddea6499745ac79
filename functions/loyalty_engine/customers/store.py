"""Data access for customers (a partition each: the customer and its links) and customer groups."""

from __future__ import annotations

from loyalty_engine.customers.models import Customer, CustomerGroup, CustomerLinks
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.errors import Conflict, NotFound
from loyalty_engine.kernel.item_access import NEW_ONLY, ConditionsFailed, ItemTable
from loyalty_engine.kernel.records import item


class CustomerStore(ItemTable):
    def customer_group(self, group: str, customer_group_id: str) -> CustomerGroup | None:
        values = self.get(keys.customer_groups_pk(group), keys.customer_group_sk(customer_group_id))
        return CustomerGroup.model_validate(values) if values else None

    def put_customer_group(self, group: str, customer_group: CustomerGroup) -> None:
        sk = keys.customer_group_sk(customer_group.customer_group_id)
        self.put(
            item(keys.customer_groups_pk(group), sk, "customer_group", customer_group.model_dump(mode="json"))
        )

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

    def put_customer(self, group: str, customer: Customer) -> None:
        pk = keys.customer_pk(group, customer.customer_id)
        self.put(item(pk, keys.CUSTOMER_SK, "customer", customer.model_dump(mode="json")))

    def link_instrument_action(self, group: str, customer_id: str, number: str) -> dict[str, object]:
        """A transaction action: the customer's link to an instrument (the caller read the customer)."""
        pk = keys.customer_pk(group, customer_id)
        return self.put_action(
            item(pk, keys.customer_instrument_link_sk(number), "customer_link", {"number": number})
        )

    def link_card(self, group: str, customer_id: str, card_code: str, previous: str | None) -> None:
        """Link a member card to a customer (one customer per card), atomically with the
        member's pointer; the member and the customer must exist."""
        customer_pk = keys.customer_pk(group, customer_id)
        member_pk = keys.member_pk(group, card_code)
        exists = {"ConditionExpression": "attribute_exists(#pk)", "ExpressionAttributeNames": {"#pk": "pk"}}
        pointer_condition = (
            NEW_ONLY
            if previous is None
            else {
                "ConditionExpression": "customer_id = :c",
                "ExpressionAttributeValues": {":c": {"S": previous}},
            }
        )
        actions = [
            self.check_action(member_pk, keys.MEMBER_SK, exists),
            self.check_action(customer_pk, keys.CUSTOMER_SK, exists),
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
            actions.append(
                self.delete_action(keys.customer_pk(group, previous), keys.customer_card_link_sk(card_code))
            )
        try:
            self.transact(actions)
        except ConditionsFailed as failed:
            if 0 in failed.failed:
                raise NotFound(f"member {card_code!r} not found", code="member_not_found") from None
            if 1 in failed.failed:
                raise NotFound(f"customer {customer_id!r} not found", code="customer_not_found") from None
            raise Conflict("the card's link changed concurrently; retry", code="concurrent_update") from None

    def card_link(self, group: str, card_code: str) -> str | None:
        values = self.get(keys.member_pk(group, card_code), keys.CUSTOMER_LINK_SK)
        return str(values["customer_id"]) if values else None
