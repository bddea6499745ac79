"""moto's TransactWriteItems without whole-table copies (the local stack's and the bench's moto).

moto deep-copies a table once per item a transaction names, before applying it, so that it can
put the copy back if a condition fails: a cost that grows with the table (and, with the table's
stream enabled, with every stream record written since the start), which DynamoDB does not have.
After a few thousand gift card numbers, one transaction of the local stack took seconds.

Here the items the transaction names are copied instead, with the length of each table's
stream, and on failure the items are put back and the stream records the cancelled transaction
wrote are dropped: the state moto's own rollback leaves, on the same `Table` objects (so a
stream reader's iterator stays on its shard). moto serves one request at a time in the local
stack (`moto_server._Serialized`) and in the bench's server, so no other write comes in between.
The answers, conditions and errors are moto's own.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

_installed = False


def item_rollback_transactions() -> None:
    """Install the change in this process's moto backend (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    class TablesNotCopied:
        """moto's `copy` module as its transaction code sees it: tables are not copied."""

        copy = staticmethod(copy.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []  # (table, hash value, range value, item or None)
        streams: dict[str, tuple[Any, int]] = {}  # table name -> (its stream shard, its length)
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            shard = getattr(table, "stream_shard", None)
            if shard is not None and table.name not in streams:
                streams[table.name] = (shard, len(shard.items))
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = models.DynamoType(key[table.hash_key_attr])
            range_value = (
                models.DynamoType(key[table.range_key_attr])
                if table.range_key_attr and table.range_key_attr in key
                else None
            )
            current = table.get_item(hash_value, range_value)
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                if item is None:
                    with contextlib.suppress(KeyError):
                        table.delete_item(hash_value, range_value)
                elif range_value is not None:
                    table.items[hash_value][range_value] = item
                else:
                    table.items[hash_value] = item
            for shard, length in streams.values():
                del shard.items[length:]  # the cancelled writes' records, and the deletes' above
            raise

    models.copy = TablesNotCopied  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True
