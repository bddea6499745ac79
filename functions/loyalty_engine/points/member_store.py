"""Data access for a member's partition: the member item, its live lots (small chunks by month
of expiry, see `points.lots`), the Q lots' history, its ledger entries and its idempotency
records (orders, burns, returns), all written in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys, search_keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.cursors import newest_first_page
from loyalty_engine.kernel.dynamo import (
    cancellation_codes,
    error_code,
    from_item,
    map_error,
    serialize,
    to_item,
)
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY, TYPE_ATTRIBUTE
from loyalty_engine.points.ledger import LedgerEntry, Lot
from loyalty_engine.points.lots import (
    by_bucket,
    chunks_as_read,
    decode,
    encode,
    layout,
    month_of,
    pack,
    slot_key,
    unpack,
)
from loyalty_engine.points.members import Member
from loyalty_engine.points.tier_history import TierChange


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
    member: Member  # the new state, its live lots included; its version is the expected one + 1
    # The live lots as read (the write stores the chunks that changed); empty for a new member.
    lots_before: list[Lot] = field(default_factory=list)
    # Where each of them is stored (`Member.lot_slots` as read)
    lot_slots: dict[str, str] = field(default_factory=dict)
    # Lots that expired in this write, with the points they had: the Q ones join the history.
    expired: list[Lot] = field(default_factory=list)
    new_records: list[NewRecord] = field(default_factory=list)
    record_updates: list[RecordUpdate] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)
    group_records: list[NewRecord] = field(default_factory=list)  # e.g. an enrolment idempotency record
    # prepared transaction actions on other items (e.g. a reward's stock, a new attribution)
    extra_actions: list[dict[str, Any]] = field(default_factory=list)


def member_item(group: str, member: Member) -> dict[str, Any]:
    """The member item: the member without its lots (`Member.lots` is not dumped)."""
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


def card_lookup(group: str, member: Member) -> dict[str, Any]:
    """The card's lookup item of the member search (`kernel.search_keys`)."""
    data = {"card_code": member.card_code, "program_id": member.program_id}
    return item(
        search_keys.card_index_pk(group), search_keys.card_lookup_sk(member.card_code), "card_lookup", data
    )


def chunk_data(lots: list[Lot]) -> dict[str, Any]:
    """A chunk item's attributes: its lots (which chunk it is, the sort key says)."""
    return {"lots": pack(lots)}


def chunk_of(values: dict[str, Any]) -> str:
    """The chunk a lots item (plain values, as read) stores."""
    return str(values[SORT_KEY])[len(keys.LOTS_PREFIX) :]


def lots_of_chunk(values: dict[str, Any]) -> list[Lot]:
    """The lots of a chunk item (plain values, as read; an old `LOTS#<kind>#<month>` has `kind`)."""
    return unpack(values["lots"], values.get("kind", "nq"))


def with_lots(member: Member, chunks: list[dict[str, Any]]) -> Member:
    """The member read from its item, with the lots of these chunk items and where each sits."""
    lots: list[Lot] = []
    slots: dict[str, str] = {}
    for values in chunks:
        chunk, found = chunk_of(values), lots_of_chunk(values)
        lots += found
        slots.update((slot_key(lot), chunk) for lot in found)
    return member.model_copy(update={"lots": lots, "lot_slots": slots})


def history_by_bucket(expired: list[Lot]) -> dict[str, list[Lot]]:
    """The expired Q lots by the month they expired in (NQ lots leave no history)."""
    found: dict[str, list[Lot]] = {}
    for (kind, bucket), lots in by_bucket(expired).items():
        if kind == "q":
            found[bucket] = lots
    return found


def _member_from(values: dict[str, Any]) -> Member:
    return Member.model_validate(data_of(values))


class MemberStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def load(
        self, group: str, card_code: str, record_sks: list[str]
    ) -> tuple[Member | None, dict[str, dict]]:
        """The member with its live lots (one consistent Query over `LOTS#` .. `MEMBER`), and the
        named records of its partition (one BatchGetItem more, only if any is named)."""
        pk = keys.member_pk(group, card_code)
        member = self._member_with_lots(pk)
        records: dict[str, dict] = {}
        if record_sks:
            found = batch_get(self._client, self._table, [(pk, sk) for sk in record_sks])
            records = {sk: data_of(values) for (_, sk), values in found.items()}
        return member, records

    def records(self, group: str, card_code: str, record_sks: list[str]) -> dict[str, dict]:
        """Records of the member's partition by sort key (those that exist)."""
        pk = keys.member_pk(group, card_code)
        found = batch_get(self._client, self._table, [(pk, sk) for sk in record_sks])
        return {sk: data_of(values) for (_, sk), values in found.items()}

    def _member_with_lots(self, pk: str) -> Member | None:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :lots AND :member",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                ":lots": {"S": keys.LOTS_PREFIX},
                ":member": {"S": keys.MEMBER_SK},
            },
            "ConsistentRead": True,
        }
        member_values, chunks = None, []
        while True:
            try:
                response = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in response.get("Items", []):
                values = from_item(raw)
                if values[SORT_KEY] == keys.MEMBER_SK:
                    member_values = values
                else:
                    chunks.append(values)
            if not (last := response.get("LastEvaluatedKey")):
                break
            params["ExclusiveStartKey"] = last
        if member_values is None:
            return None
        return with_lots(_member_from(member_values), chunks)

    def q_history(self, group: str, card_code: str, since: datetime) -> list[Lot]:
        """The Q lots that expired in or after the month of `since`, as they stood then."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :first AND :last",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.member_pk(group, card_code)},
                ":first": {"S": keys.q_history_sk(month_of(since))},
                ":last": {"S": keys.q_history_sk("~")},
            },
            "ConsistentRead": True,
        }
        lots: list[Lot] = []
        while True:
            try:
                response = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in response.get("Items", []):
                values = from_item(raw)
                lots += [decode("q", value) for value in values.get("lots", [])]
            if not (last := response.get("LastEvaluatedKey")):
                return lots
            params["ExclusiveStartKey"] = last

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
        actions += self._lot_actions(pk, write)  # no condition: the member's version guards them
        if expected_version is None:  # a new member: its card joins the card code search
            actions.append(
                {"Put": {"TableName": self._table, "Item": to_item(card_lookup(group, write.member))}}
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

    def _lot_actions(self, pk: str, write: MemberWrite) -> list[dict[str, Any]]:
        """The chunks that changed (put, or deleted when emptied), and the history's additions."""
        slots = write.lot_slots
        before, after = chunks_as_read(write.lots_before, slots), layout(write.member.lots, slots)
        actions: list[dict[str, Any]] = []
        for chunk in sorted(before.keys() | after.keys()):
            lots = after.get(chunk, [])
            if lots == before.get(chunk, []):
                continue
            key = {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": keys.lot_chunk_sk(chunk)}}
            if not lots:
                actions.append({"Delete": {"TableName": self._table, "Key": key}})
                continue
            values = item(pk, keys.lot_chunk_sk(chunk), "lots", chunk_data(lots))
            actions.append({"Put": {"TableName": self._table, "Item": to_item(values)}})
        for bucket, lots in sorted(history_by_bucket(write.expired).items()):
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": keys.q_history_sk(bucket)}},
                        "UpdateExpression": "SET #type = :type, #lots = list_append(if_not_exists(#lots, :none), :lots)",
                        "ExpressionAttributeNames": {"#type": TYPE_ATTRIBUTE, "#lots": "lots"},
                        "ExpressionAttributeValues": {
                            ":type": {"S": "q_history"},
                            ":none": {"L": []},
                            ":lots": serialize([encode(lot) for lot in lots]),
                        },
                    }
                }
            )
        return actions

    def tier_changes(self, group: str, card_code: str) -> list[TierChange]:
        """The member's whole tier history (a few changes a year), in commit order."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.member_pk(group, card_code)},
                ":prefix": {"S": keys.TIER_HISTORY_PREFIX},
            },
            "ConsistentRead": True,
        }
        changes: list[TierChange] = []
        while True:
            try:
                response = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in response.get("Items", []):
                values = data_of(from_item(raw))
                values.pop("card_code", None)
                changes.append(TierChange.model_validate(values))
            if not (last := response.get("LastEvaluatedKey")):
                return changes
            params["ExclusiveStartKey"] = last

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
