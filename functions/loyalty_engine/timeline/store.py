"""The timeline's reads: each source newest first from a position, each item with its position.

- ledger: Query `G#g#C#card`, `sk` under `E#`, descending, from the position (a sort key);
- tier changes: the same under `TIER#`;
- rewards: Query gsi1 `G#g#C#card#ATTRIBUTIONS`, descending (`gsi1sk` = `<created at>#<id>`);
- instruments: GetItem of the card's customer link; if it has one, Query of the customer's
  `INSTR#` links and BatchGetItem of their instruments (100 a request): a customer holds a few.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.dynamo import from_item, map_error
from loyalty_engine.kernel.item_access import ItemTable, newest_first
from loyalty_engine.kernel.records import data_of
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY

Positioned = list[tuple[str, dict[str, Any]]]


class TimelineStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table
        self._items = ItemTable(client, table)

    def member_exists(self, group: str, card_code: str) -> bool:
        return self._items.get(keys.member_pk(group, card_code), keys.MEMBER_SK, consistent=False) is not None

    def _query(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = self._client.query(**params)
        except ClientError as error:
            raise (map_error(error) or error) from error
        return [from_item(raw) for raw in response.get("Items", [])]

    def under_prefix(
        self, group: str, card_code: str, prefix: str, limit: int, after: str | None
    ) -> Positioned:
        """Up to `limit` items of the member's partition under `prefix`, newest first, after `after`."""
        pk = keys.member_pk(group, card_code)
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if after is not None:
            params["ExclusiveStartKey"] = {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": after}}
        return [(values[SORT_KEY], data_of(values)) for values in self._query(params)]

    def attributions(self, group: str, card_code: str, limit: int, after: str | None) -> Positioned:
        gsi_pk = keys.member_attributions_gsi1pk(group, card_code)
        params = newest_first(self._table, gsi_pk, limit, GSI1)
        if after is not None:
            attribution_id = after.split("#", 1)[1]
            params["ExclusiveStartKey"] = {
                PARTITION_KEY: {"S": keys.attribution_pk(group, attribution_id)},
                SORT_KEY: {"S": keys.ATTRIBUTION_SK},
                GSI1.partition_key: {"S": gsi_pk},
                GSI1.sort_key: {"S": after},
            }
        return [(values[GSI1.sort_key], data_of(values)) for values in self._query(params)]

    def adjustment_comments(self, group: str, card_code: str, references: list[str]) -> dict[str, str]:
        """The comments of the member's adjustments made under these Idempotency-Keys."""
        pk = keys.member_pk(group, card_code)
        found = batch_get(self._client, self._table, [(pk, keys.adjustment_sk(r)) for r in references])
        prefix = keys.adjustment_sk("")
        return {sk[len(prefix) :]: str(values.get("comment") or "") for (_, sk), values in found.items()}

    def instruments(self, group: str, card_code: str) -> list[dict[str, Any]]:
        """The instruments of the card's customer (none without one), as stored."""
        link = self._items.get(keys.member_pk(group, card_code), keys.CUSTOMER_LINK_SK, consistent=False)
        if not link:
            return []
        pk = keys.customer_pk(group, str(link["customer_id"]))
        numbers = [str(v["number"]) for v in self._items.query(pk, keys.customer_instrument_link_sk(""))]
        wanted = [
            (keys.instrument_pk(group, number), sk)
            for number in numbers
            for sk in (keys.INSTRUMENT_SK, keys.ISSUED_INSTRUMENT_SK)
        ]
        found = batch_get(self._client, self._table, wanted) if wanted else {}
        instruments = []
        for number in numbers:
            pk_n = keys.instrument_pk(group, number)
            values = found.get((pk_n, keys.INSTRUMENT_SK)) or found.get((pk_n, keys.ISSUED_INSTRUMENT_SK))
            if values:
                instruments.append(data_of(values))
        return instruments
