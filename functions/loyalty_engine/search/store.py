"""Data access of the member search: one Query of a lookup partition (or of the customer's own
partition) per page, then one BatchGetItem of the page's members and their customer links, and
one of their customers."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.customers.models import Customer
from loyalty_engine.kernel import keys, search_keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import map_error
from loyalty_engine.kernel.item_access import ItemTable
from loyalty_engine.kernel.records import data_of
from loyalty_engine.points.members import Member

CURSOR_MAX = 120


class SearchStore(ItemTable):
    def cards_by_prefix(
        self, group: str, prefix: str, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """One page of the group's card codes that begin with `prefix`, in card code order."""
        values, next_cursor = prefix_page(
            self._client,
            self._table,
            search_keys.card_index_pk(group),
            search_keys.card_lookup_sk(prefix),
            limit,
            cursor,
            max_length=CURSOR_MAX,
        )
        return [str(value["card_code"]) for value in values], next_cursor

    def customers_by_email(self, group: str, email: str) -> list[str]:
        """The ids of the group's customers with this e-mail (normalised), in id order."""
        found = self.query(search_keys.email_index_pk(group), search_keys.email_lookup_prefix(email))
        return sorted(str(value["customer_id"]) for value in found)

    def customer(self, group: str, customer_id: str) -> Customer | None:
        values = self.get(keys.customer_pk(group, customer_id), keys.CUSTOMER_SK)
        return Customer.model_validate(values) if values else None

    def cards_of_customer(
        self, group: str, customer_id: str, limit: int, after_card: str | None
    ) -> tuple[list[str], bool]:
        """Up to `limit` card codes linked to the customer, in card code order, after `after_card`;
        and whether more may follow."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.customer_pk(group, customer_id)},
                ":prefix": {"S": keys.customer_card_link_sk("")},
            },
            "Limit": limit,
            "ConsistentRead": True,
        }
        if after_card is not None:
            params["ExclusiveStartKey"] = self.key(
                keys.customer_pk(group, customer_id), keys.customer_card_link_sk(after_card)
            )
        response = self._query(params)
        cards = [str(raw["card_code"]["S"]) for raw in response.get("Items", [])]
        return cards, "LastEvaluatedKey" in response

    def _query(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = self._client.query(**params)
        except ClientError as error:
            raise (map_error(error) or error) from error
        return response

    def members_with_customers(
        self, group: str, card_codes: list[str]
    ) -> tuple[dict[str, Member], dict[str, Customer], dict[str, str]]:
        """The members of these cards (those that exist), the customers linked to them, and each
        card's customer id: two BatchGetItem requests (members and links, then customers)."""
        wanted = [(keys.member_pk(group, card), keys.MEMBER_SK) for card in card_codes]
        wanted += [(keys.member_pk(group, card), keys.CUSTOMER_LINK_SK) for card in card_codes]
        found = batch_get(self._client, self._table, wanted) if card_codes else {}
        members: dict[str, Member] = {}
        links: dict[str, str] = {}
        for card in card_codes:
            member = found.get((keys.member_pk(group, card), keys.MEMBER_SK))
            if member is not None:
                members[card] = Member.model_validate(data_of(member))
            link = found.get((keys.member_pk(group, card), keys.CUSTOMER_LINK_SK))
            if link is not None:
                links[card] = str(link["customer_id"])
        ids = sorted(set(links.values()))
        wanted_customers = [(keys.customer_pk(group, i), keys.CUSTOMER_SK) for i in ids]
        found_customers = batch_get(self._client, self._table, wanted_customers) if ids else {}
        customers = {
            str(values["customer_id"]): Customer.model_validate(data_of(values))
            for values in found_customers.values()
        }
        return members, customers, links
