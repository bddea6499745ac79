"""Key writes racing each other, against a moto server (see test_concurrency.py): one create
under one Idempotency-Key makes one key; rotations racing end with one current secret; a
revocation racing rotations leaves the key revoked."""

from __future__ import annotations

from collections.abc import Callable

from loyalty_engine.access.caller import caller_from_context
from loyalty_engine.handlers import authorizer
from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN
from tests.support.api import LambdaContext, Reply, call, lambda_container, load_event
from tests.support.clock import FakeClock
from tests.support.concurrency import all_at_once

BODY = {"name": "till", "scopes": ["shop"]}


def _accepted(token: str) -> bool:
    event = load_event("authorizer_request")
    event["headers"] = {"authorization": f"Bearer {token}"}
    try:
        caller_from_context(authorizer.handler(event, LambdaContext())["context"])
    except Exception:
        return False
    return True


def test_racing_creates_make_one_key_and_racing_rotations_one_secret(moto_server, monkeypatch):
    clock = FakeClock()
    default_context().clock = clock
    monkeypatch.setattr(authorizer, "clock", clock)
    handlers = [lambda_container() for _ in range(8)]

    def create(n: int) -> Callable[[], Reply]:
        return lambda: call(
            "api_create_api_key", ADMIN, body=BODY, headers={"Idempotency-Key": "one"}, handler=handlers[n]
        )

    made = all_at_once([create(n) for n in range(8)])
    assert sorted(reply.status for reply in made) == [200] * 7 + [201], [r.body for r in made]
    assert len({reply.body["key_id"] for reply in made}) == 1
    assert len(call("api_list_api_keys", ADMIN, query={}).body["keys"]) == 1
    key_id = made[0].body["key_id"]

    def rotate(n: int) -> Callable[[], Reply]:
        return lambda: call(
            "api_rotate_api_key",
            ADMIN,
            path={"key_id": key_id},
            body={"grace_seconds": 0},
            headers={"Idempotency-Key": f"r-{n}"},
            handler=handlers[n],
        )

    rotated = all_at_once([rotate(n) for n in range(8)])
    assert {reply.status for reply in rotated} <= {201, 409}, [r.body for r in rotated]
    assert {r.body["code"] for r in rotated if r.status == 409} <= {"concurrent_update"}
    tokens = [reply.body["api_key"] for reply in rotated if reply.status == 201]
    assert tokens and sum(_accepted(token) for token in tokens) == 1  # the last stored one only

    revoke = [lambda: call("api_revoke_api_key", ADMIN, path={"key_id": key_id}, handler=handlers[0])]
    replies = all_at_once(revoke + [rotate(n) for n in range(1, 8)])
    assert replies[0].status in (200, 409), replies[0].body
    if replies[0].status == 409:  # a rotation came first: revoking again is what a client does
        assert call("api_revoke_api_key", ADMIN, path={"key_id": key_id}).status == 200
    # no rotation undid the revocation, and no secret of the race works
    assert call("api_get_api_key", ADMIN, path={"key_id": key_id}).body["status"] == "revoked"
    assert not any(_accepted(r.body["api_key"]) for r in replies[1:] if r.status == 201)
    assert not any(_accepted(token) for token in tokens)
