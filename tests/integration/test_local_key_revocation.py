"""On the local gateway (the authorizer cached per key as API Gateway caches it): a revoked key
keeps working while its cached policy lives, and is refused once AUTHORIZER_CACHE_TTL_S has
passed; a rotated-out secret likewise. The cache's clock is moved by hand, nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local_stack.stack import LocalStack
from loyalty_engine.wiring import AUTHORIZER_CACHE_TTL_S

TIMEOUT = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack.start(state_file=tmp_path_factory.mktemp("keys") / "stack.json") as running:
        yield running


@pytest.fixture
def clock(stack: LocalStack) -> Iterator[Clock]:
    cache = stack.gateway.cache
    cache.clear()
    fake, real = Clock(), cache.clock
    cache.clock = fake
    yield fake
    cache.clock = real
    cache.clear()


def _admin(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.keys['demo']['admin']}"}


def _new_key(stack: LocalStack, idempotency_key: str) -> dict:
    made = requests.post(
        f"{stack.api_url}/v1/api-keys",
        json={"name": "till", "scopes": ["admin"]},
        headers=_admin(stack) | {"Idempotency-Key": idempotency_key},
        timeout=TIMEOUT,
    )
    assert made.status_code == 201, made.text
    return made.json()


def _status(stack: LocalStack, token: str) -> int:
    answer = requests.get(
        f"{stack.api_url}/v1/api-keys", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
    )
    return answer.status_code


def test_a_revoked_key_is_refused_once_the_cache_ttl_has_passed(stack: LocalStack, clock: Clock) -> None:
    key = _new_key(stack, "revoke-me")
    assert _status(stack, key["api_key"]) == 200  # its policy is cached from now on
    revoked = requests.delete(
        f"{stack.api_url}/v1/api-keys/{key['key_id']}", headers=_admin(stack), timeout=TIMEOUT
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked", revoked.text
    clock.now += AUTHORIZER_CACHE_TTL_S - 1
    assert _status(stack, key["api_key"]) == 200  # the documented window: the cached policy
    clock.now += 1
    assert _status(stack, key["api_key"]) == 401
    stack.gateway.cache.clear()
    assert _status(stack, key["api_key"]) == 401  # and the authorizer itself refuses it


def test_a_key_unseen_before_its_revocation_is_refused_at_once(stack: LocalStack, clock: Clock) -> None:
    key = _new_key(stack, "revoke-unseen")
    revoked = requests.delete(
        f"{stack.api_url}/v1/api-keys/{key['key_id']}", headers=_admin(stack), timeout=TIMEOUT
    )
    assert revoked.status_code == 200
    assert _status(stack, key["api_key"]) == 401


def test_a_rotated_out_secret_is_refused_after_grace_and_cache(stack: LocalStack, clock: Clock) -> None:
    key = _new_key(stack, "rotate-me")
    rotated = requests.post(
        f"{stack.api_url}/v1/api-keys/{key['key_id']}/rotations",
        json={"grace_seconds": 0},
        headers=_admin(stack) | {"Idempotency-Key": "rotation-1"},
        timeout=TIMEOUT,
    )
    assert rotated.status_code == 201, rotated.text
    assert _status(stack, rotated.json()["api_key"]) == 200
    assert _status(stack, key["api_key"]) == 401  # never cached, no grace: refused at once
