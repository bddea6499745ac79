"""Data access for a reward's loaded codes. One method per access pattern.

Items (see docs/table.md): `G#<group>#RC#<reward>` / `SEQ#<n>` holds the n-th code loaded,
`CODE#<code>` makes the code unique in the reward; the reward's stock item counts `loaded`.
Unit n of the stock (the `taken` counter) is code n: codes go out in load order, each once.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get
from loyalty_engine.kernel.batch import key as table_key
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.dynamo import (
    cancellation_codes,
    error_code,
    from_item,
    map_error,
    serialize,
    to_item,
)
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.records import item
from loyalty_engine.kernel.table import PARTITION_KEY, SORT_KEY, TYPE_ATTRIBUTE

# A position this API hands out: a code's load-order key (`SEQ#` and 12 digits).
_POSITION = re.compile(rf"{re.escape(keys.CODE_SEQ_PREFIX)}[0-9]{{12}}")
CODES_PER_TRANSACTION = 49  # 2 puts per code + the stock update: within DynamoDB's 100 actions


class CodesChanged(Exception):
    """The stock or some of the codes changed since they were read: read again."""


class CodeStore:
    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    def known(self, group: str, external_id: str, codes: list[str]) -> dict[str, str]:
        """The codes already loaded for the reward, with the source that loaded each."""
        pk = keys.reward_codes_pk(group, external_id)
        found = batch_get(self._client, self._table, [(pk, keys.code_sk(c)) for c in codes])
        return {values["code"]: str(values.get("source", "")) for values in found.values()}

    def append(self, group: str, external_id: str, loaded: int, codes: list[tuple[str, str]]) -> None:
        """Add (code, source) pairs as codes loaded+1, loaded+2, ... in one transaction, if the
        stock still counts `loaded` codes and none of them is loaded yet; else CodesChanged."""
        assert 0 < len(codes) <= CODES_PER_TRANSACTION
        pk = keys.reward_codes_pk(group, external_id)
        condition = "attribute_not_exists(#loaded)" if loaded == 0 else "#loaded = :before"
        values: dict[str, Any] = {
            ":after": serialize(loaded + len(codes)),
            ":type": serialize("reward_stock"),
        }
        if loaded:
            values[":before"] = serialize(loaded)
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": table_key(keys.rewards_pk(group), keys.stock_sk(external_id)),
                    "UpdateExpression": "SET #loaded = :after, #type = :type",
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": {"#loaded": "loaded", "#type": TYPE_ATTRIBUTE},
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        for seq, (code, source) in enumerate(codes, start=loaded + 1):
            data = {"code": code, "seq": seq, "source": source}
            for sk, item_type in (
                (keys.code_sk(code), "reward_code"),
                (keys.code_seq_sk(seq), "reward_code_seq"),
            ):
                actions.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item(item(pk, sk, item_type, data)),
                            "ConditionExpression": "attribute_not_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                        }
                    }
                )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            mapped = map_error(error)
            if mapped is not None:
                raise mapped from error
            if error_code(error) == "TransactionCanceledException" and "ConditionalCheckFailed" in set(
                cancellation_codes(error)
            ):
                raise CodesChanged() from error
            raise

    def codes_at(self, group: str, external_id: str, first: int, count: int) -> list[str]:
        """Codes first .. first+count-1 in load order (all loaded: the caller counted them)."""
        pk = keys.reward_codes_pk(group, external_id)
        wanted = [(pk, keys.code_seq_sk(seq)) for seq in range(first, first + count)]
        found = batch_get(self._client, self._table, wanted)
        codes = [found.get(key, {}).get("code") for key in wanted]
        if any(code is None for code in codes):
            raise RuntimeError(f"codes {first}..{first + count - 1} of {external_id!r} are not all stored")
        return [str(code) for code in codes]

    def page_after(
        self, group: str, external_id: str, handed_out: int, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """Codes not handed out yet, in the order they will go, from the cursor on."""
        pk = keys.reward_codes_pk(group, external_id)
        start = keys.code_seq_sk(handed_out)
        if cursor:
            # Any other text under the prefix could sort after the range's end ("SEQ#~"): a
            # BETWEEN whose bounds are reversed is a ValidationException (a 500), not a page.
            position = decode_cursor(cursor, prefix=keys.CODE_SEQ_PREFIX)
            if not _POSITION.fullmatch(position):
                raise InvalidRequest(
                    "invalid cursor",
                    code="invalid_cursor",
                    details=[{"field": "cursor", "reason": "invalid_cursor"}],
                )
            start = max(start, position)
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :after AND :end",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": {"S": pk},
                # BETWEEN is inclusive: start just after the last code handed out (or seen)
                ":after": {"S": start + "!"},
                ":end": {"S": keys.CODE_SEQ_PREFIX + "~"},
            },
            "Limit": limit,
            "ConsistentRead": True,
        }
        try:
            response = self._client.query(**params)
        except ClientError as error:
            raise (map_error(error) or error) from error
        page = [str(from_item(raw)["code"]) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return page, encode_cursor(last[SORT_KEY]["S"]) if last else None
