"""Data access for scheduled runs: members of a program shard by shard, a run's writes to a
member, tier history, and the run's own items (summary and one checkpoint per shard)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys, run_keys
from loyalty_engine.kernel.batch import batch_get, batch_put
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor, newest_first_page
from loyalty_engine.kernel.dynamo import error_code, from_item, map_error, to_item
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from loyalty_engine.points.expiry_notices import ExpiryNotice
from loyalty_engine.points.member_store import StaleMember, member_item, with_lots
from loyalty_engine.points.members import Member
from loyalty_engine.points.tier_history import TierChange

if TYPE_CHECKING:  # the API reads tier history through this store: the run models stay off its cold path
    from loyalty_engine.tiers.jobs import JobRequest, RunSummary, ShardProgress

PAGE_SIZE = 500  # members per page: one checkpoint per page
NOTICE_KEPT_S = 30 * 24 * 3600  # an expiry notice is kept this long after its lot's expiry (TTL)


class JobStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table
        self.requests = 0  # DynamoDB requests made (benchmarks)

    def _call(self, operation: str, **params: Any) -> Any:
        self.requests += 1
        try:
            return getattr(self._client, operation)(TableName=self._table, **params)
        except ClientError as error:
            raise (map_error(error) or error) from error

    # members
    def members_page(
        self, group: str, program_id: str, shard: int, cursor: str | None, limit: int = PAGE_SIZE
    ) -> tuple[list[Member], str | None]:
        """One page of a shard's members from gsi1 (eventually consistent: writes are conditional)."""
        params: dict[str, Any] = {
            "IndexName": GSI1.name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": GSI1.partition_key},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.program_members_gsi1pk(group, program_id, shard)}
            },
            "Limit": limit,
        }
        if cursor:
            card = decode_cursor(cursor)
            params["ExclusiveStartKey"] = {
                GSI1.partition_key: {"S": keys.program_members_gsi1pk(group, program_id, shard)},
                GSI1.sort_key: {"S": card},
                PARTITION_KEY: {"S": keys.member_pk(group, card)},
                SORT_KEY: {"S": keys.MEMBER_SK},
            }
        response = self._call("query", **params)
        members = [Member.model_validate(data_of(from_item(raw))) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return members, encode_cursor(last[GSI1.sort_key]["S"]) if last else None

    def put_member(self, group: str, member: Member, expected_version: int) -> None:
        """Replace the member if its version is still `expected_version` (else StaleMember)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(member_item(group, member)),
                ConditionExpression="#v = :v",
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(expected_version)}},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise StaleMember() from error
            raise (map_error(error) or error) from error
        finally:
            self.requests += 1

    def put_history(self, group: str, changes: list[tuple[str, TierChange]]) -> None:
        """History entries (card, change), 25 per request; a retried run writes the same items again."""
        if changes:
            self.requests += batch_put(
                self._client,
                self._table,
                [
                    item(
                        keys.member_pk(group, card),
                        keys.tier_history_sk(change.member_version),
                        "tier_change",
                        {"card_code": card, **change.model_dump(mode="json")},
                    )
                    for card, change in changes
                ],
            )

    def put_expiry_notices(self, group: str, card_code: str, notices: list[ExpiryNotice]) -> int:
        """Each notice not written yet, once (a conditional put); how many were written. The ones
        already there are read first (keys only), so a daily run does not retry them every day."""
        if not notices:
            return 0
        pk = keys.member_pk(group, card_code)
        wanted = {(pk, keys.expiry_notice_sk(n.point_kind, n.lot_id)): n for n in notices}
        self.requests += 1 + (len(wanted) - 1) // 100
        present = batch_get(self._client, self._table, list(wanted), projection=(), consistent=False)
        written = 0
        for (_, sk), notice in wanted.items():
            if (pk, sk) in present:
                continue
            values = item(pk, sk, "expiry_notice", notice.model_dump(mode="json"))
            values[TTL_ATTRIBUTE] = int(notice.expires_at.timestamp()) + NOTICE_KEPT_S
            try:
                self._call(
                    "put_item",
                    Item=to_item(values),
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": PARTITION_KEY},
                )
                written += 1
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
        return written

    def history_page(
        self, group: str, card_code: str, limit: int, cursor: str | None
    ) -> tuple[list[TierChange], str | None]:
        """Newest first."""
        self.requests += 1
        values, next_cursor = newest_first_page(
            self._client,
            self._table,
            keys.member_pk(group, card_code),
            keys.TIER_HISTORY_PREFIX,
            limit,
            cursor,
        )
        changes = [
            TierChange.model_validate({k: v for k, v in entry.items() if k != "card_code"})
            for entry in values
        ]
        return changes, next_cursor

    def ledger_sums(self, group: str, card_code: str) -> tuple[Member | None, int, int, int]:
        """The member with its live lots and the sums of its ledger entries' NQ and Q changes (and
        their count), from one consistent Query over the partition's range `E#...` .. `MEMBER`
        (which also holds the lots' chunks `LOTS#...`, and other records of the member, e.g.
        `ENROL` and `IDEM#...`: only entries count)."""
        pk = keys.member_pk(group, card_code)
        params: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :first AND :member",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                ":first": {"S": keys.ENTRY_PREFIX},
                ":member": {"S": keys.MEMBER_SK},
            },
            "ConsistentRead": True,
        }
        member, chunks, nq, q, count = None, [], 0, 0, 0
        while True:
            response = self._call("query", **params)
            for raw in response.get("Items", []):
                values = from_item(raw)
                if values[SORT_KEY] == keys.MEMBER_SK:
                    member = Member.model_validate(data_of(values))
                elif values[SORT_KEY].startswith(keys.ENTRY_PREFIX):
                    nq, q, count = nq + int(values["nq"]), q + int(values["q"]), count + 1
                elif values[SORT_KEY].startswith(keys.LOTS_PREFIX):
                    chunks.append(values)
            last = response.get("LastEvaluatedKey")
            if not last:
                return (with_lots(member, chunks) if member else None), nq, q, count
            params["ExclusiveStartKey"] = last

    # runs
    def create_run(self, request: JobRequest, summary: RunSummary) -> bool:
        """False when the run exists already (a duplicate invocation)."""
        try:
            self._call(
                "put_item",
                Item=to_item(run_record(request, summary)),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def complete_run(self, request: JobRequest, summary: RunSummary) -> bool:
        """Close a running run; False when it was closed already (so its metrics count once)."""
        try:
            self._call(
                "put_item",
                Item=to_item(run_record(request, summary)),
                ConditionExpression="#state = :running",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":running": {"S": "running"}},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def run_items(self, request: JobRequest) -> tuple[RunSummary | None, dict[int, ShardProgress]]:
        """The run and its shards' checkpoints (consistent)."""
        from loyalty_engine.tiers.jobs import RunSummary, ShardProgress

        pk = run_keys.run_pk(request.group, request.program_id, request.run_id)
        params: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        summary, shards = None, {}
        while True:
            response = self._call("query", **params)
            for raw in response.get("Items", []):
                values = from_item(raw)
                if values[SORT_KEY] == run_keys.RUN_SK:
                    summary = RunSummary.model_validate(data_of(values))
                else:
                    progress = ShardProgress.model_validate(data_of(values))
                    shards[progress.shard] = progress
            if not (last := response.get("LastEvaluatedKey")):
                return summary, shards
            params["ExclusiveStartKey"] = last

    def shard_progress(self, request: JobRequest, shard: int) -> ShardProgress | None:
        from loyalty_engine.tiers.jobs import ShardProgress

        pk = run_keys.run_pk(request.group, request.program_id, request.run_id)
        response = self._call(
            "get_item",
            Key={PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": run_keys.shard_sk(shard)}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return ShardProgress.model_validate(data_of(from_item(raw))) if raw else None

    def save_progress(self, request: JobRequest, progress: ShardProgress, expected_pages: int | None) -> bool:
        """Checkpoint a shard; False if another worker moved it on (expected_pages None: must be new)."""
        pk = run_keys.run_pk(request.group, request.program_id, request.run_id)
        params: dict[str, Any] = {
            "Item": to_item(
                item(pk, run_keys.shard_sk(progress.shard), "job_shard", progress.model_dump(mode="json"))
            )
        }
        if expected_pages is None:
            params["ConditionExpression"] = "attribute_not_exists(#pk)"
            params["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
        else:
            params["ConditionExpression"] = "pages = :pages AND done = :false"
            params["ExpressionAttributeValues"] = {
                ":pages": {"N": str(expected_pages)},
                ":false": {"BOOL": False},
            }
        try:
            self._call("put_item", **params)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def run_record(request: JobRequest, summary: RunSummary) -> dict[str, Any]:
    """The run item, with its gsi1 entry in the program's list of the job's runs (newest first:
    `GET /v1/programs/{id}/jobs`), so that listing it costs no request of its own."""
    return item(
        run_keys.run_pk(request.group, request.program_id, request.run_id),
        run_keys.RUN_SK,
        "job_run",
        summary.model_dump(mode="json"),
        **{
            GSI1.partition_key: run_keys.program_runs_gsi1pk(request.group, request.program_id, request.job),
            GSI1.sort_key: request.scheduled_at.strftime(run_keys.RUN_TIME_FORMAT),
        },
    )
