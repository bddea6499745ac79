"""Data access for programs, in the loyalty group's partition: a program, its unique name, and
the points side's records kept there (enrolment idempotency records)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import cancellation_codes, error_code, from_item, map_error, to_item
from loyalty_engine.kernel.errors import Conflict
from loyalty_engine.kernel.item_access import ItemTable
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, MEMBER_SHARDS, PARTITION_KEY, SORT_KEY
from loyalty_engine.points.programs import Program
from loyalty_engine.points.tier_counts import TierTally


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ProgramStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table
        self._items = ItemTable(client, table)

    def get_program(self, group: str, program_id: str, consistent: bool = False) -> Program | None:
        values = self._items.get(keys.group_pk(group), keys.program_sk(program_id), consistent=consistent)
        return Program.model_validate(values) if values else None

    def get_tier_tally(self, group: str, program_id: str) -> TierTally | None:
        values = self._items.get(keys.group_pk(group), keys.tier_tally_sk(program_id), consistent=False)
        return TierTally.model_validate(values) if values else None

    def put_tier_tally(self, group: str, program_id: str, tally: TierTally) -> bool:
        """Keep `tally` unless a later run's is kept already (False then); the same run's again
        replaces it with the same counts."""
        values = item(
            keys.group_pk(group), keys.tier_tally_sk(program_id), "tier_tally", tally.model_dump(mode="json")
        )
        return self._items.put(
            values,
            {
                "ConditionExpression": "attribute_not_exists(#pk) OR #at <= :at",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#at": "as_of"},
                "ExpressionAttributeValues": {":at": {"S": values["as_of"]}},
            },
        )

    def programs_page(self, group: str, limit: int, cursor: str | None) -> tuple[list[Program], str | None]:
        """One page of the group's programs, in id order (one Query of the group's partition under
        `PROGRAM#`, which neither `PROGRAMV#` nor `PROGRAMNAME#` begins with), and the next cursor."""
        prefix = keys.program_sk("")
        values, next_cursor = prefix_page(
            self._client, self._table, keys.group_pk(group), prefix, limit, cursor, max_length=80
        )
        return [Program.model_validate(value) for value in values], next_cursor

    def program_at(self, group: str, program_id: str, at: datetime) -> Program | None:
        """The program as it was at `at`: its latest version saved at or before it (None: none
        was saved by then, or the program was saved before versions were kept)."""
        prefix = keys.program_version_prefix(program_id)
        response = self._query(
            KeyConditionExpression="#pk = :pk AND #sk BETWEEN :first AND :last",
            ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            ExpressionAttributeValues={
                ":pk": {"S": keys.group_pk(group)},
                ":first": {"S": prefix},
                ":last": {"S": f"{prefix}{_iso(at)}#~"},
            },
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items", [])
        return Program.model_validate(data_of(from_item(items[0]))) if items else None

    def has_members(self, group: str, program_id: str) -> bool:
        """Whether the program has a member: one key of each member shard of gsi1 (at most 16
        Queries of one item; eventually consistent), asked only before a change that needs none."""
        for shard in range(MEMBER_SHARDS):
            response = self._query(
                IndexName=GSI1.name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": GSI1.partition_key},
                ExpressionAttributeValues={
                    ":pk": {"S": keys.program_members_gsi1pk(group, program_id, shard)}
                },
                ProjectionExpression="#pk",
                Limit=1,
            )
            if response.get("Items"):
                return True
        return False

    def _query(self, **params: Any) -> Any:
        try:
            return self._client.query(TableName=self._table, **params)
        except ClientError as error:
            raise (map_error(error) or error) from error

    def put_program(self, group: str, program: Program, previous: Program | None) -> None:
        """Create or replace a program and claim its name, unique within the group; every
        version is kept too, so that late orders earn with the settings of their time.

        The write is conditional on the program's version being the one read (`previous`),
        so of two concurrent replacements only one wins.
        """
        pk = keys.group_pk(group)
        program_put: dict[str, Any] = {
            "TableName": self._table,
            "Item": to_item(
                item(
                    pk,
                    keys.program_sk(program.program_id),
                    "program",
                    program.model_dump(mode="json"),
                    # Listed among every group's programs (all_program_keys).
                    gsi1pk=keys.ALL_PROGRAMS_GSI1PK,
                    gsi1sk=keys.all_programs_gsi1sk(group, program.program_id),
                )
            ),
        }
        if previous is None:
            program_put["ConditionExpression"] = "attribute_not_exists(#pk)"
            program_put["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
        else:
            program_put["ConditionExpression"] = "#v = :v"
            program_put["ExpressionAttributeNames"] = {"#v": "version"}
            program_put["ExpressionAttributeValues"] = {":v": {"N": str(previous.version)}}
        name_put = {
            "TableName": self._table,
            "Item": to_item(
                item(
                    pk, keys.program_name_sk(program.name), "program_name", {"program_id": program.program_id}
                )
            ),
            "ConditionExpression": "attribute_not_exists(#pk) OR program_id = :p",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":p": {"S": program.program_id}},
        }
        version_put = {
            "TableName": self._table,
            "Item": to_item(
                item(
                    pk,
                    keys.program_version_sk(program.program_id, _iso(program.updated_at), program.version),
                    "program_version",
                    program.model_dump(mode="json"),
                )
            ),
        }
        actions: list[dict[str, Any]] = [{"Put": program_put}, {"Put": name_put}, {"Put": version_put}]
        if previous is not None and keys.program_name_sk(previous.name) != keys.program_name_sk(program.name):
            actions.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {
                            PARTITION_KEY: {"S": pk},
                            SORT_KEY: {"S": keys.program_name_sk(previous.name)},
                        },
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException":
                codes = cancellation_codes(error)
                if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                    raise Conflict(
                        f"another program of this group is already named {program.name!r}",
                        code="program_name_taken",
                        details=[{"field": "name", "reason": "program_name_taken"}],
                    ) from error
                if codes and codes[0] == "ConditionalCheckFailed":
                    raise Conflict(
                        "the program was changed by a concurrent request; read it and retry",
                        code="concurrent_update",
                    ) from error
            raise (map_error(error) or error) from error

    def all_program_keys(self) -> Iterator[tuple[str, str]]:
        """(group, program id) of every program of every group, by group: gsi1 `PROGRAMS`,
        keys only, a page at a time. The index is eventually consistent: a program saved a
        moment ago may be missing; read each program itself (`get_program`) to act on it."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": GSI1.partition_key, "#sk": GSI1.sort_key},
            "ExpressionAttributeValues": {":pk": {"S": keys.ALL_PROGRAMS_GSI1PK}},
            "ProjectionExpression": "#sk",
        }
        while True:
            try:
                answer = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in answer.get("Items", []):
                yield keys.group_and_program(raw[GSI1.sort_key]["S"])
            if "LastEvaluatedKey" not in answer:
                return
            params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get_record(self, group: str, sk: str) -> dict[str, Any] | None:
        return self._items.get(keys.group_pk(group), sk)
