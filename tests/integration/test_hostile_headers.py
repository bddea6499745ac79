"""Idempotency-Key abuse and other hostile headers: a key too long, empty, with spaces or
look-alike characters is a 422 naming the header as every other answer names it
(`Idempotency-Key`); a huge unrelated header changes nothing; the same key with another body is
409; another group's card is 404 whatever the key."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import ADMIN, OTHER_GROUP
from tests.support.api import call

ADJUSTMENT = {"kind": "nq", "points": 5, "reason_code": "goodwill", "comment": "sorry"}


@pytest.mark.parametrize(
    "key", ["a" * 65, "a" * 10_000, "", "a b", "\uff41\uff42\uff43", "-abc", "a/b", "a#b"]
)
def test_a_malformed_idempotency_key_is_422_naming_the_header(funded: dict, key: str) -> None:
    reply = call("api_adjust_points", ADMIN, body=ADJUSTMENT, headers={"Idempotency-Key": key})
    assert reply.status == 422, reply.body
    assert [(d["in"], d["field"]) for d in reply.body["details"]] == [("header", "Idempotency-Key")]


def test_the_same_key_with_another_body_or_from_another_group(funded: dict, table: Any) -> None:
    first = call("api_adjust_points", ADMIN, body=ADJUSTMENT, headers={"Idempotency-Key": "k-1"})
    assert first.status == 201
    again = call("api_adjust_points", ADMIN, body=ADJUSTMENT, headers={"Idempotency-Key": "k-1"})
    assert (again.status, again.body) == (201, first.body)
    other = call(
        "api_adjust_points", ADMIN, body={**ADJUSTMENT, "points": 6}, headers={"Idempotency-Key": "k-1"}
    )
    assert (other.status, other.body["code"]) == (409, "idempotency_key_reused")
    elsewhere = call("api_adjust_points", OTHER_GROUP, body=ADJUSTMENT, headers={"Idempotency-Key": "k-1"})
    assert (elsewhere.status, elsewhere.body["code"]) == (404, "member_not_found")


def test_a_huge_unrelated_header_changes_nothing(funded: dict) -> None:
    reply = call("api_get_member", ADMIN, headers={"X-Padding": "a" * 100_000})
    assert reply.status == 200 and reply.body["card_code"] == funded["card_code"]
