"""The merchants as the points side sees them when points pay at a till: a merchant's groups,
cached per container for a short while, and the transaction condition that the merchant still
belongs to a group (the check that a stale cache cannot get round).

It fits `points.payment_use_cases.MerchantDirectory` by its shape; the points API's handler
wires it, so that the points capability does not depend on this one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loyalty_engine.instruments.merchant_store import MerchantStore
from loyalty_engine.kernel import keys


class MerchantDirectory:
    def __init__(
        self, store: MerchantStore, seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self._store = store
        self._seconds = seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, frozenset[str] | None]] = {}

    def merchant_groups(self, group: str, merchant_id: str, *, fresh: bool = False) -> frozenset[str] | None:
        now = self._clock()
        cached = self._cache.get((group, merchant_id))
        if cached is not None and not fresh and now - cached[0] < self._seconds:
            return cached[1]
        merchant = self._store.merchant(group, merchant_id)
        groups = None if merchant is None else frozenset(merchant.merchant_groups)
        self._cache[(group, merchant_id)] = (now, groups)
        return groups

    def membership_check(self, group: str, merchant_id: str, merchant_group_id: str) -> dict[str, Any]:
        return self._store.check_action(
            keys.merchants_pk(group),
            keys.merchant_sk(merchant_id),
            {
                "ConditionExpression": "contains(#groups, :g)",
                "ExpressionAttributeNames": {"#groups": "merchant_groups"},
                "ExpressionAttributeValues": {":g": {"S": merchant_group_id}},
            },
        )
