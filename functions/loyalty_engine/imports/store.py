"""Data access for import jobs, their skipped lines, and the drain lock of a group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.imports.jobs import ImportJob, SkippedLine
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import key as table_key
from loyalty_engine.kernel.dynamo import error_code, from_item, map_error, serialize, to_item
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


def skipped_item(group: str, job_id: str, skipped: SkippedLine, expires: int) -> dict[str, Any]:
    return item(
        keys.import_pk(group, job_id),
        keys.skipped_sk(skipped.line),
        "import_skipped_line",
        skipped.model_dump(mode="json"),
        **{TTL_ATTRIBUTE: expires},
    )


def reserved_item(group: str, job_id: str, external_id: str, expires: int) -> dict[str, Any]:
    """A reward the job reserved stock of: its markers are removed once the job is done.

    One item per reward (not a list on the job item), so that a file naming thousands of
    finite rewards keeps every item far below DynamoDB's 400 KB."""
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
        """Store a new job; when a delivery of the same object got there first, return that job."""
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

    def jobs_for_file(self, group: str, file_name: str, limit: int) -> list[ImportJob]:
        """The jobs of a file name, newest first."""
        try:
            response = self._client.query(
                TableName=self._table,
                IndexName=GSI1.name,
                KeyConditionExpression="#gpk = :gpk",
                ExpressionAttributeNames={"#gpk": GSI1.partition_key},
                ExpressionAttributeValues={":gpk": {"S": keys.import_file_gsi1pk(group, file_name)}},
                ScanIndexForward=False,
                Limit=limit,
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        return [ImportJob.model_validate(data_of(from_item(raw))) for raw in response.get("Items", [])]

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
