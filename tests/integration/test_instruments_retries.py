"""Retries, duplicates, crashes and races on the instrument API's write paths, through the real
handlers on moto: the same request twice answers the same and changes things once, a crash
between two writes leaves a state the retry repairs, and a request run between another's read
and its write (a store read wrapped to run it there) neither double-spends nor loses an update."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from loyalty_engine.customers.store import CustomerStore
from tests.support.api import Reply, call
from tests.support.instrument_api import (
    ADMIN,
    build_world,
    ok,
    sold_gift_card,
)

pytestmark = pytest.mark.usefixtures("table")


@pytest.fixture
def world() -> None:
    build_world()
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    ok(call("api_put_customer", ADMIN, path={"customer_id": "ada"}, body=body))
    ok(call("api_put_customer", ADMIN, path={"customer_id": "bob"}, body={"first_name": "Bob"}))


def stored_text(table: tuple[Any, str]) -> str:
    dynamodb, name = table
    items = dynamodb.scan(TableName=name)["Items"]
    return json.dumps(items, sort_keys=True, default=lambda value: zlib.decompress(value).decode())


def between(obj: Any, name: str, action: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run `action` once, right after the first call of `obj.name` returns (between a request's
    read and its write); what it returned is in the list."""
    original = getattr(obj, name)
    done: list[Any] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not done:
            done.append(action())
        return result

    monkeypatch.setattr(obj, name, wrapper)
    return done


def link(number: str, customer_id: str) -> Reply:
    body = {"customer_id": customer_id}
    return call("api_link_instrument_customer", ADMIN, path={"number": number}, body=body)


def customer(customer_id: str) -> dict[str, Any]:
    return ok(call("api_get_customer", ADMIN, path={"customer_id": customer_id}), 200)  # type: ignore[no-any-return]


def test_an_instrument_linked_while_its_customer_is_erased_is_blanked_too(world, table, monkeypatch):
    """A cancelled card (its reason naming the person) is linked to the customer between the
    erasure's read of the customer's links and its write: the link moves the customer's version,
    so the erasure reads again and blanks that card's reason as well."""
    number = sold_gift_card(table, "B-ERASE")
    cancellation = {"cancellation_id": "C-1", "reason": "Ada Lovelace reported it stolen"}
    ok(call("api_cancel_instrument", ADMIN, path={"number": number}, body=cancellation))
    raced = between(CustomerStore, "customer", lambda: link(number, "ada"), monkeypatch)

    erased = call("api_erase_customer", ADMIN, path={"customer_id": "ada"})

    assert raced and raced[0].status == 200, raced
    assert erased.status == 200, erased.body
    assert erased.body["links"]["instruments"] == [number]
    assert customer("ada")["links"]["instruments"] == [number]
    assert "reported it stolen" not in stored_text(table)
