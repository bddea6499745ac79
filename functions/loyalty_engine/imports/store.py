"""Data access for import jobs, their skipped lines, and the drain lock of a group."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.imports.jobs import GeneratedAttribution, ImportJob, SkippedLine
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.batch import key as table_key
from loyalty_engine.kernel.dynamo import error_code, from_item, map_error, serialize, to_item
from loyalty_engine.kernel.item_access import newest_first
from loyalty_engine.kernel.records import data_of, item
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE


class JobMoved(Exception):
    """The job's checkpoint is not the one this run started from: another run got there first."""


def job_item(group: str, job: ImportJob) -> dict[str, Any]:
    return item(
        keys.import_pk(group, job.import_id),
        keys.JOB_SK,
        "import_job",
        job.model_dump(mode="json"),
        **{
            GSI1.partition_key: keys.import_file_gsi1pk(group, job.file_name),
            GSI1.sort_key: f"{job.received_at.isoformat()}#{job.import_id}",
        },
    )


def listed_sk(received_at: datetime, job_id: str) -> str:
    """A job's place in its group's list: received time (fixed width, so that text order is time
    order), then the id."""
    return f"{received_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{job_id}"


def listed_item(group: str, job: ImportJob) -> dict[str, Any]:
    """The job's pointer in the group's list partition (the job item's gsi1 is its file's)."""
    return item(
        keys.import_list_pk(group),
        listed_sk(job.received_at, job.import_id),
        "import_listed",
        {"import_id": job.import_id, "file_name": job.file_name},
    )


# A page of jobs: (position, job) in list order, the job None when its pointer is a stray (see
# `create_job`); and the position to go on from, None after the last.
JobPage = tuple[list[tuple[str, ImportJob | None]], str | None]


def skipped_item(group: str, job_id: str, skipped: SkippedLine, expires: int) -> dict[str, Any]:
    return item(
        keys.import_pk(group, job_id),
        keys.skipped_sk(skipped.line),
        "import_skipped_line",
        skipped.model_dump(mode="json"),
        **{TTL_ATTRIBUTE: expires},
    )


def generated_item(group: str, job_id: str, generated: GeneratedAttribution, expires: int) -> dict[str, Any]:
    return item(
        keys.import_pk(group, job_id),
        keys.generated_sk(generated.line),
        "import_generated_attribution",
        generated.model_dump(mode="json"),
        **{TTL_ATTRIBUTE: expires},
    )


def reserved_item(group: str, job_id: str, external_id: str, expires: int) -> dict[str, Any]:
    """A reward the job reserved stock of: its markers are removed once the job is done.

    One item per reward (not a list on the job item), so that a file naming thousands of
    rewards keeps every item far below DynamoDB's 400 KB."""
    return item(
        keys.import_pk(group, job_id),
        keys.reserved_sk(external_id),
        "import_reserved_reward",
        {"external_id": external_id},
        **{TTL_ATTRIBUTE: expires},
    )


class ImportStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def job(self, group: str, job_id: str) -> ImportJob | None:
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key=table_key(keys.import_pk(group, job_id), keys.JOB_SK),
                ConsistentRead=True,
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        raw = response.get("Item")
        return ImportJob.model_validate(data_of(from_item(raw))) if raw else None

    def create_job(self, group: str, job: ImportJob) -> ImportJob:
        """Store a new job; when a delivery of the same object got there first, return that job.

        The job's pointer in its group's list is written first, so that no job is ever unlisted;
        a pointer left by a crash between the two writes (or by the delivery that lost the race)
        names a received time the job does not have, and the list skips it."""
        self._put(listed_item(group, job))
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(job_item(group, job)),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PARTITION_KEY},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error
            existing = self.job(group, job.import_id)
            if existing is None:  # pragma: no cover - a job item is never deleted
                raise
            return existing
        return job

    def save_job(self, group: str, job: ImportJob, expected_chunk: int) -> None:
        """Replace the job (its progress and checkpoint) if nobody moved it since `expected_chunk`."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(job_item(group, job)),
                ConditionExpression="#chunk = :chunk",
                ExpressionAttributeNames={"#chunk": "chunk"},
                ExpressionAttributeValues={":chunk": serialize(expected_chunk)},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                raise JobMoved(job.import_id) from error
            raise (map_error(error) or error) from error

    def skipped_lines(self, group: str, job_id: str) -> Iterator[SkippedLine]:
        """A job's skipped lines in line order, page by page."""
        for values in self._job_records(group, job_id, keys.SKIPPED_PREFIX):
            yield SkippedLine.model_validate(values)

    def generated_attributions(self, group: str, job_id: str) -> Iterator[GeneratedAttribution]:
        """The attribution ids an earnreward job generated, in line order, page by page."""
        for values in self._job_records(group, job_id, keys.GENERATED_PREFIX):
            yield GeneratedAttribution.model_validate(values)

    def reserved_rewards(self, group: str, job_id: str) -> Iterator[str]:
        """The rewards a job reserved stock of, page by page."""
        for values in self._job_records(group, job_id, keys.RESERVED_PREFIX):
            yield str(values["external_id"])

    def _job_records(self, group: str, job_id: str, prefix: str) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.import_pk(group, job_id)},
                ":prefix": {"S": prefix},
            },
            "ConsistentRead": True,
        }
        while True:
            try:
                response = self._client.query(**params)
            except ClientError as error:
                raise (map_error(error) or error) from error
            for raw in response.get("Items", []):
                yield data_of(from_item(raw))
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def listed_page(self, group: str, limit: int, after: str | None) -> JobPage:
        """Up to `limit` jobs of the group, newest received first, after the position `after` (a
        sort key of the list partition)."""
        pk = keys.import_list_pk(group)
        params = newest_first(self._table, pk, limit)
        if after:
            params["ExclusiveStartKey"] = table_key(pk, after)
        response = self._query(params)
        pointers = [from_item(raw) for raw in response.get("Items", [])]
        found = batch_get(
            self._client,
            self._table,
            [(keys.import_pk(group, p["import_id"]), keys.JOB_SK) for p in pointers],
        )
        page: list[tuple[str, ImportJob | None]] = []
        for pointer in pointers:
            raw = found.get((keys.import_pk(group, pointer["import_id"]), keys.JOB_SK))
            job = ImportJob.model_validate(data_of(raw)) if raw else None
            if job is not None and listed_sk(job.received_at, job.import_id) != pointer[SORT_KEY]:
                job = None  # a stray pointer: the job was received at another time
            page.append((pointer[SORT_KEY], job))
        last = response.get("LastEvaluatedKey")
        return page, last[SORT_KEY]["S"] if last else None

    def file_page(self, group: str, file_name: str, limit: int, after: str | None) -> JobPage:
        """Up to `limit` jobs of a file name, newest first, after the position `after` (a gsi1
        sort key of that file's jobs)."""
        gpk = keys.import_file_gsi1pk(group, file_name)
        params = newest_first(self._table, gpk, limit, GSI1)
        if after:
            job_id = after.rsplit("#", 1)[-1]
            params["ExclusiveStartKey"] = {
                **table_key(keys.import_pk(group, job_id), keys.JOB_SK),
                GSI1.partition_key: {"S": gpk},
                GSI1.sort_key: {"S": after},
            }
        response = self._query(params)
        page: list[tuple[str, ImportJob | None]] = []
        for raw in response.get("Items", []):
            values = from_item(raw)
            page.append((values[GSI1.sort_key], ImportJob.model_validate(data_of(values))))
        last = response.get("LastEvaluatedKey")
        return page, last[GSI1.sort_key]["S"] if last else None

    def _query(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._client.query(**params)  # type: ignore[no-any-return]
        except ClientError as error:
            raise (map_error(error) or error) from error

    def _put(self, values: dict[str, Any]) -> None:
        try:
            self._client.put_item(TableName=self._table, Item=to_item(values))
        except ClientError as error:
            raise (map_error(error) or error) from error

    def claim_content(self, group: str, file_name: str, sha256: str, job_id: str) -> str:
        """Claim `file_name`'s bytes (by their SHA-256) for `job_id`; the id of the import that
        holds the claim: `job_id` itself, or the earlier import of the same name and bytes."""
        pk = keys.import_content_pk(group, file_name, sha256)
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item(pk, keys.CONTENT_SK, "import_content", {"import_id": job_id})),
                ConditionExpression="attribute_not_exists(#pk) OR #id = :id",
                ExpressionAttributeNames={"#pk": PARTITION_KEY, "#id": "import_id"},
                ExpressionAttributeValues={":id": serialize(job_id)},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error
            try:
                response = self._client.get_item(
                    TableName=self._table, Key=table_key(pk, keys.CONTENT_SK), ConsistentRead=True
                )
            except ClientError as read_error:
                raise (map_error(read_error) or read_error) from read_error
            return str(data_of(from_item(response["Item"]))["import_id"])
        return job_id

    # --- the drain lock ----------------------------------------------------------------------

    def acquire_lock(self, group: str, owner: str, now: int, lease_s: int) -> bool:
        """Hold the group's drain lock until `now + lease_s` unless someone else holds it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    item(
                        keys.import_lock_pk(group),
                        keys.LOCK_SK,
                        "import_lock",
                        {"owner": owner, "expires_at": now + lease_s},
                        **{TTL_ATTRIBUTE: now + lease_s + 86_400},
                    )
                ),
                ConditionExpression="attribute_not_exists(#pk) OR #expires < :now OR #owner = :owner",
                ExpressionAttributeNames={"#pk": PARTITION_KEY, "#expires": "expires_at", "#owner": "owner"},
                ExpressionAttributeValues={":now": serialize(now), ":owner": serialize(owner)},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True

    def release_lock(self, group: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=table_key(keys.import_lock_pk(group), keys.LOCK_SK),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": serialize(owner)},
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise (map_error(error) or error) from error
