"""Data access for a member's partition: the member item, its ledger entries and its
idempotency records (orders, burns, returns), all written in one transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import newest_first_page
from loyalty_engine.kernel.dynamo import cancellation_codes, error_code, from_item, map_error, to_item
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY
from loyalty_engine.points.ledger import LedgerEntry
from loyalty_engine.points.members import Member

UNPROCESSED_ATTEMPTS = 6


class StaleMember(Exception):
    """The member changed since it was read (optimistic concurrency): read again and retry."""


class ExtraConditionFailed(Exception):
    """A condition of one of the write's extra actions (outside the member's partition) failed."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


class RecordExists(Exception):
    """An idempotency record was written by a concurrent request: read it and replay."""

    def __init__(self, sk: str):
        super().__init__(sk)
        self.sk = sk


@dataclass
class NewRecord:
    sk: str
    type: str
    data: dict[str, Any]


@dataclass
class RecordUpdate:
    """Replace an existing record of the partition (the member's version condition guards it)."""

    sk: str
    type: str
    data: dict[str, Any]


@dataclass
class MemberWrite:
    member: Member  # the new state; its version is the expected one + 1
    new_records: list[NewRecord] = field(default_factory=list)
    record_updates: list[RecordUpdate] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    group_records: list[NewRecord] = field(default_factory=list)  # e.g. an enrolment idempotency record
    # prepared transaction actions on other items (e.g. a reward's stock, a new attribution)
    extra_actions: list[dict[str, Any]] = field(default_factory=list)


def member_item(group: str, member: Member) -> dict[str, Any]:
    shard = keys.member_shard(member.card_code)
    return item(
        keys.member_pk(group, member.card_code),
        keys.MEMBER_SK,
        "member",
        member.model_dump(mode="json"),
        **{
            GSI1.partition_key: keys.program_members_gsi1pk(group, member.program_id, shard),
            GSI1.sort_key: member.card_code,
        },
    )


def _member_from(values: dict[str, Any]) -> Member:
    return Member.model_validate(data_of(values))


class MemberStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}

    def load(
        self, group: str, card_code: str, record_sks: list[str]
    ) -> tuple[Member | None, dict[str, dict]]:
        """The member and the named records of its partition, in one consistent BatchGetItem."""
        pk = keys.member_pk(group, card_code)
        request = {
            self._table: {"Keys": [self._key(pk, keys.MEMBER_SK)] + [self._key(pk, sk) for sk in record_sks]}
        }
        request[self._table]["ConsistentRead"] = True  # type: ignore[assignment]
        found: list[dict[str, Any]] = []
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                time.sleep(min(0.5, 0.02 * 2**attempt))
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except ClientError as error:
                raise (map_error(error) or error) from error
            found.extend(response.get("Responses", {}).get(self._table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            # never answer "not found" for what was not read
            raise ServiceUnavailable("the database is busy; retry with the same idempotency key")
        values = [from_item(raw) for raw in found]
        member = next((_member_from(v) for v in values if v[SORT_KEY] == keys.MEMBER_SK), None)
        records = {v[SORT_KEY]: data_of(v) for v in values if v[SORT_KEY] != keys.MEMBER_SK}
        return member, records

    def commit(self, group: str, write: MemberWrite, expected_version: int | None) -> None:
        """Write the new member state with its records and entries atomically.

        `expected_version` None means the member must not exist yet.
        """
        pk = keys.member_pk(group, write.member.card_code)
        if expected_version is None:
            member_put: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            }
        else:
            member_put = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(member_item(group, write.member)),
                    **member_put,
                }
            }
        ]
        must_be_new = [(pk, r) for r in write.new_records] + [
            (keys.group_pk(group), r) for r in write.group_records
        ]
        for record_pk, record in must_be_new:
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(item(record_pk, record.sk, record.type, record.data)),
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                    }
                }
            )
        for update in write.record_updates:
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(item(pk, update.sk, update.type, update.data)),
                    }
                }
            )
        for position, entry in enumerate(write.entries):
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            item(
                                pk,
                                keys.entry_sk(write.member.version, position),
                                "ledger_entry",
                                entry.model_dump(mode="json"),
                            )
                        ),
                    }
                }
            )
        first_extra = len(actions)
        actions.extend(write.extra_actions)
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise (map_error(error) or error) from error
            codes = cancellation_codes(error)
            if codes and codes[0] in ("ConditionalCheckFailed", "TransactionConflict"):
                raise StaleMember() from error
            for (_, record), code in zip(must_be_new, codes[1:], strict=False):
                if code == "ConditionalCheckFailed":
                    raise RecordExists(record.sk) from error
            for index, code in enumerate(codes[first_extra:]):
                if code == "ConditionalCheckFailed":
                    raise ExtraConditionFailed(index) from error
            if any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in codes):
                raise StaleMember() from error
            raise (map_error(error) or error) from error

    def programs_of(self, group: str, card_codes: list[str]) -> dict[str, str]:
        """The program of each card that exists (a light read: two attributes per member)."""
        wanted = [(keys.member_pk(group, card), keys.MEMBER_SK) for card in card_codes]
        found = batch_get(self._client, self._table, wanted, projection=("card_code", "program_id"))
        return {values["card_code"]: values["program_id"] for values in found.values()}

    def ledger_page(
        self, group: str, card_code: str, limit: int, cursor: str | None
    ) -> tuple[list[LedgerEntry], str | None]:
        """Newest entries first. The cursor holds only a sort key; the partition comes from the caller."""
        values, next_cursor = newest_first_page(
            self._client, self._table, keys.member_pk(group, card_code), keys.ENTRY_PREFIX, limit, cursor
        )
        return [LedgerEntry.model_validate(entry) for entry in values], next_cursor
