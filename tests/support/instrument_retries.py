"""What the retry, duplicate, crash and race tests of the instrument API share: the world (the
instrument API's, plus customers `ada` and `bob`), the table's items as text (to see that a
replay wrote nothing), a request run between another one's read and its write, a crash before
or after a store's write."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Reply, call
from tests.support.instrument_api import ADMIN, build_world, ok


def customers_world() -> None:
    """The instrument API's world (tests.support.instrument_api) and two customers."""
    build_world()
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    ok(call("api_put_customer", ADMIN, path={"customer_id": "ada"}, body=body))
    ok(call("api_put_customer", ADMIN, path={"customer_id": "bob"}, body={"first_name": "Bob"}))


def stored_text(table: tuple[Any, str]) -> str:
    return "\n".join(sorted(stored_items(table)))


def stored_items(table: tuple[Any, str]) -> set[str]:
    """Every item of the table as text (lot chunks unpacked), but the audit trail's (one record
    per request, replays included)."""
    dynamodb, name = table
    items = [i for i in _scan(dynamodb, name) if i["type"]["S"] not in ("audit", "audit_object")]
    return {json.dumps(i, sort_keys=True, default=lambda v: zlib.decompress(v).decode()) for i in items}


def _scan(dynamodb: Any, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": name}
    while True:
        page = dynamodb.scan(**params)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def unchanged(table: tuple[Any, str], before: set[str], what: Any = "") -> None:
    after = stored_items(table)
    assert after == before, (what, sorted(after - before), sorted(before - after))


def between(obj: Any, name: str, action: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run `action` once, right after the first call of `obj.name` returns (between a request's
    read and its write); what it returned is in the list."""
    original = getattr(obj, name)
    done: list[Any] = []
    started: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not started:
            started.append(True)
            done.append(action())
        return result

    monkeypatch.setattr(obj, name, wrapper)
    return done


def link(number: str, customer_id: str) -> Reply:
    body = {"customer_id": customer_id}
    return call("api_link_instrument_customer", ADMIN, path={"number": number}, body=body)


def customer(customer_id: str) -> dict[str, Any]:
    return ok(call("api_get_customer", ADMIN, path={"customer_id": customer_id}), 200)  # type: ignore[no-any-return]


class Crash(Exception):
    """The function stopped (a timeout, a lost container) at this point."""


def crash_once(obj: Any, name: str, monkeypatch: pytest.MonkeyPatch, *, after: bool) -> None:
    """The first call of `obj.name` crashes: before it writes, or right `after` it wrote."""
    original = getattr(obj, name)
    crashed: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if crashed:
            return original(*args, **kwargs)
        crashed.append(True)
        if after:
            original(*args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(obj, name, wrapper)


def crashed(send: Callable[[], Reply]) -> None:
    with pytest.raises(Crash):
        send()


SPLIT_LIKE = {
    "name": "Extra",
    "kind": "gift_card",
    "prefix": "7009",
    "length": 12,
    "issuer_group": "stores",
    "acceptor_group": "stores",
    "currency": "EUR",
    "value": "25.00",
}


OTHER_LIKE = {
    **{"name": "More", "kind": "gift_card", "prefix": "7008", "length": 12},
    **{"issuer_group": "stores", "acceptor_group": "stores", "currency": "EUR", "value": "25.00"},
}
