"""Data access for reading a program's scheduled runs (the API's `/v1/programs/{id}/jobs`): the
runs of each job newest first from their gsi1 entries (`run_keys.program_runs_gsi1pk`, written with
the run item by `job_store.run_record`), and one run with its shards' checkpoints."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import run_keys
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.dynamo import from_item, map_error
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.records import data_of
from loyalty_engine.kernel.table import GSI1, PARTITION_KEY, SORT_KEY
from loyalty_engine.points.job_names import JOB_NAMES

# A page's position: the last run shown, `<scheduled time>#<job>`.
_POSITION = re.compile(rf"^(\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}Z)#({'|'.join(JOB_NAMES)})$")


def _order(time: str, job: str) -> tuple[str, int]:
    """Sort key of the list, ascending = shown first: newest time first (the times have one
    length, so the text with each character inverted sorts backwards), then the jobs' order."""
    return "".join(chr(0x10FFFF - ord(c)) for c in time), JOB_NAMES.index(job)


class RunStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def _query(self, **params: Any) -> Any:
        try:
            return self._client.query(TableName=self._table, **params)
        except ClientError as error:
            raise (map_error(error) or error) from error

    def runs_page(
        self, group: str, program_id: str, jobs: tuple[str, ...], limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the program's runs of `jobs`, newest scheduled first (one time: in the jobs'
        order), as stored, and the next page's cursor. One Query per job, each from the cursor's
        position on, merged; a job's runs past what its Query read wait for the next page."""
        after: tuple[str, str] | None = None  # (time, job) of the last run shown
        if cursor:
            match = _POSITION.match(decode_cursor(cursor, separator="#", max_length=80))
            if match is None:
                raise InvalidRequest(
                    "invalid cursor",
                    code="invalid_cursor",
                    details=[{"field": "cursor", "reason": "invalid_cursor"}],
                )
            after = (match[1], match[2])
        found: list[tuple[tuple[str, int], dict[str, Any]]] = []
        bound: tuple[str, int] | None = None  # no run after this one is known to be complete
        for job in jobs:
            items, more = self._job_runs(group, program_id, job, limit, after)
            found += [(_order(item["scheduled_at_key"], job), item) for item in items]
            if more and items:
                last = _order(items[-1]["scheduled_at_key"], job)
                bound = last if bound is None else min(bound, last)
        found.sort(key=lambda pair: pair[0])
        shown = [pair for pair in found if bound is None or pair[0] <= bound]
        page = shown[:limit]
        more = bound is not None or len(shown) > limit
        if not (more and page):
            return [values for _, values in page], None
        last_values = page[-1][1]
        position = f"{last_values['scheduled_at_key']}#{last_values['job']}"
        return [values for _, values in page], encode_cursor(position)

    def _job_runs(
        self, group: str, program_id: str, job: str, limit: int, after: tuple[str, str] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` runs of the job after the position `after`, newest first; whether it has more."""
        condition = "#pk = :pk"
        values: dict[str, Any] = {":pk": {"S": run_keys.program_runs_gsi1pk(group, program_id, job)}}
        names = {"#pk": GSI1.partition_key}
        if after is not None:
            # at the same time, the runs of the jobs that come later in the order are still to show
            later = JOB_NAMES.index(job) > JOB_NAMES.index(after[1])
            condition += " AND #sk <= :at" if later else " AND #sk < :at"
            values[":at"] = {"S": after[0]}
            names["#sk"] = GSI1.sort_key
        response = self._query(
            IndexName=GSI1.name,
            KeyConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit,
        )
        items = []
        for raw in response.get("Items", []):
            stored = from_item(raw)
            items.append(data_of(stored) | {"scheduled_at_key": stored[GSI1.sort_key]})
        return items, "LastEvaluatedKey" in response

    def run(
        self, group: str, program_id: str, run_id: str
    ) -> tuple[dict[str, Any] | None, dict[int, dict[str, Any]]]:
        """The run's summary and its shards' checkpoints by shard, as stored (one Query of its partition)."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            "ExpressionAttributeValues": {":pk": {"S": run_keys.run_pk(group, program_id, run_id)}},
        }
        summary, shards = None, {}
        while True:
            response = self._query(**params)
            for raw in response.get("Items", []):
                stored = from_item(raw)
                if stored[SORT_KEY] == run_keys.RUN_SK:
                    summary = data_of(stored)
                elif stored[SORT_KEY].startswith(run_keys.SHARD_PREFIX):
                    shards[int(stored["shard"])] = data_of(stored)
            if not (last := response.get("LastEvaluatedKey")):
                return summary, shards
            params["ExclusiveStartKey"] = last
