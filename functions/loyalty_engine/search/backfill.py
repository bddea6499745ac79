"""The member search's lookup items for data written before they existed: every member card of
a group's programs (their gsi1 shards) and every customer of its directory with an e-mail.

Puts only (a lookup put again is the same item), so it can run at any time and again; it skips
erased cards and customers. A customer whose e-mail changes while it runs may keep a stale
e-mail lookup: the search checks each customer's e-mail against the one searched, so a stale
lookup finds nothing.
"""

from dataclasses import dataclass
from typing import Any

from loyalty_engine.kernel import keys, search_keys
from loyalty_engine.kernel.batch import batch_get, batch_put
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import from_item
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.records import item
from loyalty_engine.kernel.table import GSI1, MEMBER_SHARDS
from loyalty_engine.points.program_store import ProgramStore

PAGE = 200


class BackfillReport(DeferredModel):
    group: str
    programs: int
    cards: int
    customers: int
    skipped_erased: int


@dataclass
class SearchBackfill:
    client: Any
    table: str

    def run(self, group: str) -> BackfillReport:
        programs = self._program_ids(group)
        cards = erased = 0
        for program_id in programs:
            for shard in range(MEMBER_SHARDS):
                found, skipped = self._shard(group, program_id, shard)
                cards, erased = cards + found, erased + skipped
        customers, skipped = self._customers(group)
        return BackfillReport(
            group=group,
            programs=len(programs),
            cards=cards,
            customers=customers,
            skipped_erased=erased + skipped,
        )

    def _program_ids(self, group: str) -> list[str]:
        store = ProgramStore(self.client, self.table)
        ids: list[str] = []
        cursor = None
        while True:
            page, cursor = store.programs_page(group, PAGE, cursor)
            ids += [program.program_id for program in page]
            if cursor is None:
                return ids

    def _shard(self, group: str, program_id: str, shard: int) -> tuple[int, int]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": GSI1.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {
                "#pk": GSI1.partition_key,
                "#card": "card_code",
                "#erased": "erased_at",
            },
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.program_members_gsi1pk(group, program_id, shard)}
            },
            "ProjectionExpression": "#card, #erased",
        }
        written = skipped = 0
        while True:
            response = self.client.query(**params)
            lookups = []
            for raw in response.get("Items", []):
                values = from_item(raw)
                if values.get("erased_at"):
                    skipped += 1
                    continue
                card = str(values["card_code"])
                data = {"card_code": card, "program_id": program_id}
                lookups.append(
                    item(
                        search_keys.card_index_pk(group),
                        search_keys.card_lookup_sk(card),
                        "card_lookup",
                        data,
                    )
                )
            if lookups:
                batch_put(self.client, self.table, lookups)
            written += len(lookups)
            if not (last := response.get("LastEvaluatedKey")):
                return written, skipped
            params["ExclusiveStartKey"] = last

    def _customers(self, group: str) -> tuple[int, int]:
        written = skipped = 0
        cursor = None
        while True:
            entries, cursor = prefix_page(
                self.client,
                self.table,
                keys.customers_pk(group),
                keys.customer_entry_sk(""),
                100,
                cursor,
                max_length=80,
            )
            wanted = [(keys.customer_pk(group, str(e["customer_id"])), keys.CUSTOMER_SK) for e in entries]
            found = batch_get(self.client, self.table, wanted) if wanted else {}
            lookups = []
            for values in found.values():
                if values.get("erased"):
                    skipped += 1
                elif values.get("email"):
                    customer_id = str(values["customer_id"])
                    sk = search_keys.email_lookup_sk(str(values["email"]), customer_id)
                    data = {"customer_id": customer_id}
                    lookups.append(item(search_keys.email_index_pk(group), sk, "email_lookup", data))
            if lookups:
                batch_put(self.client, self.table, lookups)
            written += len(lookups)
            if cursor is None:
                return written, skipped
