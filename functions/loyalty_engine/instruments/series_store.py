"""Data access for series (keyed by prefix, plus an id claim), their counters and their batches."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.instruments.batches import Batch
from loyalty_engine.instruments.series import Series, prefix_overlap
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_put
from loyalty_engine.kernel.cursors import prefix_page
from loyalty_engine.kernel.dynamo import error_code, map_error, to_item
from loyalty_engine.kernel.errors import Conflict
from loyalty_engine.kernel.item_access import NEW_ONLY, ConditionsFailed, ItemTable
from loyalty_engine.kernel.records import item


def series_item(group: str, series: Series) -> dict[str, Any]:
    data = series.model_dump(mode="json") | {"secret": series.secret, "next_index": series.next_index}
    return item(keys.series_pk(group), keys.series_prefix_sk(series.prefix), "series", data)


class SeriesStore(ItemTable):
    def all_series(self, group: str) -> list[Series]:
        """Every series of the group (a group has tens, not thousands): one Query."""
        pk = keys.series_pk(group)
        return [Series.model_validate(v) for v in self.query(pk, keys.SERIES_PREFIX_PREFIX)]

    def series(self, group: str, series_id: str) -> Series | None:
        claim = self.get(keys.series_pk(group), keys.series_id_sk(series_id))
        return self.series_at(group, str(claim["prefix"])) if claim else None

    def series_at(self, group: str, prefix: str) -> Series | None:
        """The series of a prefix (where a series' id item points)."""
        values = self.get(keys.series_pk(group), keys.series_prefix_sk(prefix))
        return Series.model_validate(values) if values else None

    def create_series(self, group: str, series: Series, enclosing: list[Series]) -> bool:
        """Create a series and claim its id and prefix. A series whose prefix begins with
        another's may only be created while that one has drawn no number (else it would take
        over numbers already issued): checked in the same transaction. False: its id was
        claimed meanwhile (the caller reads that series)."""
        pk = keys.series_pk(group)
        actions = [
            self.put_action(series_item(group, series), NEW_ONLY),
            self.put_action(
                item(pk, keys.series_id_sk(series.series_id), "series_id", {"prefix": series.prefix}),
                NEW_ONLY,
            ),
        ]
        for outer in enclosing:
            actions.append(
                self.check_action(
                    pk,
                    keys.series_prefix_sk(outer.prefix),
                    {
                        "ConditionExpression": "next_index = :zero",
                        "ExpressionAttributeValues": {":zero": {"N": "0"}},
                    },
                )
            )
        try:
            self.transact(actions)
        except ConditionsFailed as failed:
            if 1 in failed.failed:
                return False
            if 0 in failed.failed:
                raise Conflict(
                    f"prefix {series.prefix!r} is taken",
                    code="prefix_overlap",
                    details=[{"field": "prefix", "reason": "prefix_overlap"}],
                ) from None
            for index in failed.failed:
                outer = enclosing[index - 2]
                raise prefix_overlap(
                    series.prefix, outer.prefix, outer.series_id, "it has issued numbers"
                ) from None
            raise Conflict("the series changed concurrently; retry", code="concurrent_update") from None
        return True

    def replace_series(self, group: str, series: Series, expected_version: int) -> bool:
        """Replace the mutable settings; the counter is kept as stored (never rewound)."""
        data = series.model_dump(mode="json")
        names = {f"#a{i}": name for i, name in enumerate(data)}
        values = {f":a{i}": value for i, value in enumerate(data.values())}
        sets = ", ".join(f"#a{i} = :a{i}" for i in range(len(data)))
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self.key(keys.series_pk(group), keys.series_prefix_sk(series.prefix)),
                UpdateExpression=f"SET {sets}",
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames={**names, "#version": "version"},
                ExpressionAttributeValues={**to_item(values), ":expected": {"N": str(expected_version)}},
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise (map_error(error) or error) from error
        return True

    def reserve(self, group: str, series: Series, count: int) -> tuple[int, int]:
        """Draw `count` indexes from the series' counter: [start, end), never handed out twice."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=self.key(keys.series_pk(group), keys.series_prefix_sk(series.prefix)),
                UpdateExpression="ADD next_index :n",
                ExpressionAttributeValues={":n": {"N": str(count)}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            raise (map_error(error) or error) from error
        end = int(response["Attributes"]["next_index"]["N"])
        return end - count, end

    # batches
    def batch(self, group: str, series_id: str, batch_id: str) -> Batch | None:
        values = self.get(keys.series_pk(group), keys.batch_sk(series_id, batch_id))
        return Batch.model_validate(values) if values else None

    def batches_of(self, group: str, series_id: str) -> list[Batch]:
        return [
            Batch.model_validate(v) for v in self.query(keys.series_pk(group), keys.batch_sk(series_id, ""))
        ]

    def batches_page(
        self, group: str, series_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Batch], str | None]:
        """One page of a series' batches in batch id order (Query `B#<series>#` in the group's
        series collection), and the next cursor."""
        values, next_cursor = prefix_page(
            self._client,
            self._table,
            keys.series_pk(group),
            keys.batch_sk(series_id, ""),
            limit,
            cursor,
            max_length=200,
        )
        return [Batch.model_validate(value) for value in values], next_cursor

    def create_batch(self, group: str, batch: Batch) -> bool:
        """False when the batch exists (the caller replays it)."""
        sk = keys.batch_sk(batch.series_id, batch.batch_id)
        return self.put(
            item(keys.series_pk(group), sk, "instrument_batch", batch.model_dump(mode="json")), NEW_ONLY
        )

    def save_batch(self, group: str, batch: Batch, previous: Batch) -> bool:
        """Replace the batch if it is still as read (its ranges and position): a checkpoint."""
        sk = keys.batch_sk(batch.series_id, batch.batch_id)
        condition = {
            "ConditionExpression": "#p = :p AND size(#r) = :r AND #s = :s",
            "ExpressionAttributeNames": {"#p": "position", "#r": "ranges", "#s": "status"},
            "ExpressionAttributeValues": {
                ":p": {"N": str(previous.position)},
                ":r": {"N": str(len(previous.ranges))},
                ":s": {"S": previous.status},
            },
        }
        return self.put(
            item(keys.series_pk(group), sk, "instrument_batch", batch.model_dump(mode="json")), condition
        )

    def put_instruments(self, items: list[dict[str, Any]]) -> int:
        """Write pre-issued instruments, 25 per request; returns the requests made."""
        return batch_put(self._client, self._table, items)
