"""Data access for a member's partition: the member item, its ledger entries and its
idempotency records (orders, burns, returns), all written in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import newest_first_page
from loyalty_engine.kernel.dynamo import cancellation_codes, error_code, map_error, to_item
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY
from loyalty_engine.points.ledger import LedgerEntry
from loyalty_engine.points.members import Member


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

    def load(
        self, group: str, card_code: str, record_sks: list[str]
    ) -> tuple[Member | None, dict[str, dict]]:
        """The member and the named records of its partition, in one consistent BatchGetItem."""
        pk = keys.member_pk(group, card_code)
        found = batch_get(self._client, self._table, [(pk, keys.MEMBER_SK), *((pk, sk) for sk in record_sks)])
        stored = found.get((pk, keys.MEMBER_SK))
        member = _member_from(stored) if stored is not None else None
        records = {sk: data_of(values) for (_, sk), values in found.items() if sk != keys.MEMBER_SK}
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
