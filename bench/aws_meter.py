"""The write-unit meter of `bench/aws_hooks.py` (re-exported there): a botocore hook on a client.

`WriteMeter`: the write units of every write the client makes (PutItem, UpdateItem,
DeleteItem, BatchWriteItem, TransactWriteItems), per operation, per item type and per
partition key (the table's and gsi1's), from the item before and after the write, read
with a client of its own (not counted, not delayed; its time counts as part of the call it
meters, like moto's).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

from bench.aws_model import (
    IndexShape,
    hottest,
    write_cost,
)

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


def indexes() -> list[IndexShape]:
    """The table's global secondary indexes, from the one definition (kernel/table.py)."""
    from loyalty_engine.kernel.table import GLOBAL_SECONDARY_INDEXES

    return [
        IndexShape(name=i.name, partition_key=i.partition_key, sort_key=i.sort_key, projection=i.projection)
        for i in GLOBAL_SECONDARY_INDEXES
    ]


def _key_of(item: dict[str, Any]) -> tuple[str, str]:
    return (item["pk"]["S"], item["sk"]["S"])


class WriteMeter:
    """Write units of every write made through `client` (see the module's docstring)."""

    def __init__(self, client: Any, *, keep_items: bool = False) -> None:
        import botocore.session

        self.indexes = indexes()
        self._reader = botocore.session.get_session().create_client(
            "dynamodb", endpoint_url=client.meta.endpoint_url, region_name=client.meta.region_name
        )
        self.meter_s = 0.0
        self.meter_cpu_s = 0.0
        self.clock: Any = time.perf_counter  # a Latency with a frozen clock sets its own
        self.by_operation: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_type: dict[str, Counter[str]] = defaultdict(Counter)
        self.partitions: Counter[str] = Counter()
        self.items: list[dict[str, Any]] = []  # one row per item written, if keep_items
        self.keep_items = keep_items
        self._lock = threading.Lock()
        self._local = threading.local()
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def start_call(self) -> None:
        """A call of this thread starts: its metering time counts from zero (`call_seconds`)."""
        self._local.call_s = 0.0

    def call_seconds(self) -> float:
        """The time the meter took in this thread's current call (its reads before and after)."""
        return float(getattr(self._local, "call_s", 0.0))

    def _took(self, started: float, cpu: float) -> None:
        took = self.clock() - started
        self._local.call_s = self.call_seconds() + took
        with self._lock:
            self.meter_s += took
            self.meter_cpu_s += time.thread_time() - cpu

    # -- reading the items before and after, with the meter's own client --

    def _read(self, table: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                table: {
                    "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self._reader.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(table, []):
                    found[_key_of(item)] = item
                request = answer.get("UnprocessedKeys") or {}
        return found

    @staticmethod
    def _writes(operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """(table, key, new item or None when read after the write, kind) of each item written."""
        out: list[dict[str, Any]] = []
        if operation == "PutItem":
            out.append({"table": params["TableName"], "key": _key_of(params["Item"]), "new": params["Item"]})
        elif operation in ("UpdateItem", "DeleteItem"):
            out.append({"table": params["TableName"], "key": _key_of(params["Key"]), "kind": operation})
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        out.append({"table": table, "key": _key_of(item), "new": item})
                    else:
                        key = _key_of(request["DeleteRequest"]["Key"])
                        out.append({"table": table, "key": key, "kind": "DeleteItem"})
        elif operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                ((kind, body),) = entry.items()
                if kind == "Put":
                    out.append(
                        {"table": body["TableName"], "key": _key_of(body["Item"]), "new": body["Item"]}
                    )
                else:
                    kind = {"Update": "UpdateItem", "Delete": "DeleteItem"}.get(kind, kind)
                    out.append({"table": body["TableName"], "key": _key_of(body["Key"]), "kind": kind})
        return out

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """On the API parameters (before-parameter-build: before-call sees the serialized request)."""
        if model.name not in WRITES:
            return
        started, cpu = self.clock(), time.thread_time()
        writes = self._writes(model.name, params)
        for table in {w["table"] for w in writes}:
            old = self._read(table, [w["key"] for w in writes if w["table"] == table])
            for w in writes:
                if w["table"] == table:
                    w["old"] = old.get(w["key"])
        context["bench_writes"] = writes
        self._took(started, cpu)

    def _after(
        self, model: Any, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        writes = context.pop("bench_writes", None)
        if writes is None or getattr(http_response, "status_code", 500) != 200:
            return  # nothing written (a failed condition, a cancelled transaction)
        started, cpu = self.clock(), time.thread_time()
        unprocessed = {
            _key_of(r.get("PutRequest", {}).get("Item") or r["DeleteRequest"]["Key"])
            for requests in parsed.get("UnprocessedItems", {}).values()
            for r in requests
        }
        writes = [w for w in writes if w["key"] not in unprocessed]
        for table in {w["table"] for w in writes if w.get("kind") == "UpdateItem"}:
            new = self._read(
                table, [w["key"] for w in writes if w["table"] == table and w.get("kind") == "UpdateItem"]
            )
            for w in writes:
                if w["table"] == table and w.get("kind") == "UpdateItem":
                    w["new"] = new.get(w["key"])
        transactional = model.name == "TransactWriteItems"
        with self._lock:
            for w in writes:
                new = w.get("new") if w.get("kind") != "ConditionCheck" else w.get("old")
                cost = write_cost(w.get("old"), new, indexes=self.indexes, transactional=transactional)
                if w.get("kind") == "ConditionCheck":  # checked, not written: no index copy
                    cost.index_units.clear()
                    cost.partitions = {k: v for k, v in cost.partitions.items() if ":" not in k}
                standard = cost.table_units // (2 if transactional else 1)
                index_units = sum(cost.index_units.values())
                item_type = ((new or w.get("old") or {}).get("type") or {}).get("S", "?")
                for counter in (self.by_operation[model.name], self.by_type[item_type]):
                    counter["items"] += 1
                    counter["units"] += cost.total
                    counter["units_if_not_transactional"] += standard + index_units
                    counter["index_units"] += index_units
                    counter["max_item_bytes"] = max(counter["max_item_bytes"], cost.item_bytes)
                self.partitions.update(cost.partitions)
                if self.keep_items:
                    self.items.append(
                        {
                            "operation": model.name,
                            "type": item_type,
                            "sk": w["key"][1],
                            "kind": w.get("kind", "Put"),
                            "bytes_before": _size(w.get("old")),
                            "bytes_after": _size(new),
                            "table_units": cost.table_units,
                            "index_units": index_units,
                            "units": cost.total,
                        }
                    )
            self.by_operation[model.name]["calls"] += 1
        self._took(started, cpu)

    def total_units(self) -> int:
        return sum(c["units"] for c in self.by_operation.values())

    def reset(self) -> None:
        with self._lock:
            self.meter_s = 0.0
            self.meter_cpu_s = 0.0
            self.by_operation.clear()
            self.by_type.clear()
            self.partitions.clear()
            self.items.clear()

    def figures(self, seconds: float) -> dict[str, Any]:
        """Units per operation and item type, and the hottest partition keys over `seconds`."""
        top = self.partitions.most_common(3)
        return {
            "write_units": self.total_units(),
            "by_operation": {op: dict(c) for op, c in sorted(self.by_operation.items())},
            "by_item_type": {t: dict(c) for t, c in sorted(self.by_type.items())},
            "hottest_partition": hottest(dict(self.partitions), seconds),
            "top_partitions_units": dict(top),
            "meter_s": round(self.meter_s, 2),
            "meter_cpu_s": round(self.meter_cpu_s, 2),
        }


def _size(item: dict[str, Any] | None) -> int:
    from bench.aws_model import item_size

    return item_size(item)
