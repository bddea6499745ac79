"""The job benchmarks' moto backend (`python bench/jobs.py backend`): `bench/moto_backend.py` with
two more changes to moto, for speed only, on reads (see `bench/jobs.py`'s docstring)."""

from __future__ import annotations

from typing import Any

from local_stack.moto_transactions import item_rollback_transactions

# --- the moto backend ----------------------------------------------------------------------

FAST_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem"})


def _fast_read_responses() -> None:
    """moto's generic response serializer walks the botocore shape of every attribute value:
    about 13 ms per member item here, 6 s for a 500-item page, where DynamoDB answers in tens
    of milliseconds. moto's DynamoDB read results are plain JSON already (`DynamoResult`):
    this writes them as they are (what the serializer makes of them, minus its walk), and
    leaves anything that is not plain JSON (binary values, errors, other operations) to it."""
    import json as _json

    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name in FAST_READS and isinstance(self.result, dict):
            try:
                body = _json.dumps(self.result, separators=(",", ":"))
            except TypeError:
                return original(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
        return original(self, context)

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def _queries_by_partition() -> None:
    """moto's Query looks at every item of the table to find the queried partition (a table's
    or an index's), sorts them with Python-level comparisons and deep-copies the page: at
    100,000 members, most of a second per 500-item page, growing with the table, where DynamoDB
    reads one partition. Here the candidates are found first (a table's partition: moto keeps
    its items by hash key; an index's: one pass comparing one attribute), put in key order (so
    that moto's own sort has nothing left to do), and the page is not copied (moto only reads
    and projects it, and its projections build new items). moto's own code does the rest: key
    conditions, order, start key, limits, the 1 MB page size, filters, projections."""
    import bisect
    import copy as copy_module

    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import Table

    class NoDeepCopy:
        copy = staticmethod(copy_module.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return list(value) if isinstance(value, list) else value

    original = Table.query

    def order(item: Any, names: list[str]) -> tuple[str, ...]:
        return tuple(str(item.attrs[name].value) if name in item.attrs else "" for name in names)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        table_keys = (
            [self.hash_key_attr, self.range_key_attr] if self.range_key_attr else [self.hash_key_attr]
        )
        if index_name is None and self.range_key_attr and hash_key is not None:
            candidates = list(self.items.get(hash_key, {}).values())
            names = [self.range_key_attr]
        elif index_name is not None and len(conditions) == 1:
            name, value = conditions[0]
            kind, wanted = value.type, value.value
            candidates = [
                item
                for partition in self.items.values()
                for item in (partition.values() if self.range_key_attr else (partition,))
                if (found := item.attrs.get(name)) is not None
                and found.value == wanted
                and found.type == kind
            ]
            index = next((i for i in self.all_indexes() if i.name == index_name), None)
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index else []
            names = ranges + table_keys
        else:
            return original(self, *args, **kwargs)
        ordered = sorted((order(item, names), n, item) for n, item in enumerate(candidates))
        candidates = [item for _, _, item in ordered]
        start = args[4] if len(args) > 4 else kwargs.get("exclusive_start_key")
        forward = args[5] if len(args) > 5 else kwargs.get("scan_index_forward", True)
        values = [getattr(start.get(name), "value", None) for name in names] if start and forward else []
        types = [getattr(start.get(name), "type", None) for name in names] if values else []
        if values and all(kind == "S" for kind in types):
            # forward, string keys: this order is moto's, so the items up to the start key can go
            after = bisect.bisect_right([key for key, _, _ in ordered], tuple(values))
            candidates = candidates[after:]
        self.all_items = lambda: candidates  # the instance's, for this call (one request at a time)
        table_module.copy = NoDeepCopy  # type: ignore[assignment]
        try:
            return original(self, *args, **kwargs)
        finally:
            table_module.copy = copy_module
            del self.all_items

    Table.query = query  # type: ignore[method-assign]


def serve() -> None:
    """`bench/moto_backend.py` (its own speed changes, one request at a time), with fast reads."""
    from bench import moto_backend

    _fast_read_responses()
    _queries_by_partition()
    item_rollback_transactions()
    moto_backend.main()
