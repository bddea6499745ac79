"""Use cases of a group's API keys, for its admins (the API) and operators (`loyalty-admin`):
create, list, read, rotate, revoke. The group is always the caller's (the API) or the one an
operator names (the CLI); another group's key is not found (404).

Whether a merchant exists is the instruments' business: the caller hands a `MerchantExists`
port (the handler wires the instruments' merchant directory), so access depends on no other
capability.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from loyalty_engine.access.key_rules import (
    ApiKeySecret,
    ApiKeyView,
    CreateKeyRequest,
    RotateKeyRequest,
    check_expiry,
    key_id_for,
    revoked,
    rotated,
    view_of,
)
from loyalty_engine.access.models import ApiKey, LoyaltyGroup, new_api_key, token_of
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.errors import Conflict, IdempotencyKeyReused, InvalidRequest, NotFound
from loyalty_engine.kernel.idempotency import fingerprint, key_required
from loyalty_engine.kernel.ids import new_id

MerchantExists = Callable[[str, str], bool]  # (group, merchant_id) -> the merchant is the group's


def key_not_found(key_id: str) -> NotFound:
    return NotFound(f"API key {key_id!r} not found", code="api_key_not_found")


def _check_merchant(merchant_exists: MerchantExists, group: str, merchant_id: str | None) -> None:
    if merchant_id is not None and not merchant_exists(group, merchant_id):
        raise InvalidRequest(
            f"merchant {merchant_id!r} is not a merchant of the group",
            code="unknown_merchant",
            details=[{"in": "body", "field": "merchant_id", "reason": "unknown_merchant"}],
        )


def create_key(
    store: GroupStore,
    group: str,
    request: CreateKeyRequest,
    now: datetime,
    merchant_exists: MerchantExists,
    idempotency_key: str | None,
) -> tuple[int, ApiKeySecret]:
    """201 and the new key with its token (shown once). With an Idempotency-Key (required by the
    API), the key's id derives from it: the same request again answers 200 with the key and no
    token (it is not kept); another request under the same Idempotency-Key is refused (409)."""
    _check_merchant(merchant_exists, group, request.merchant_id)
    print_ = fingerprint("create_api_key", request, group=group)
    key_id = key_id_for(group, idempotency_key) if idempotency_key else new_id()
    existing = store.get_api_key_fresh(group, key_id) if idempotency_key else None
    if existing is None:
        check_expiry(request.expires_at, now)
        store.create_group(LoyaltyGroup(group_id=group, name=group, created_at=now))
        key, token = new_api_key(
            key_id=key_id,
            group_id=group,
            name=request.name,
            scopes=list(request.scopes),
            merchant_id=request.merchant_id,
            now=now,
            expires_at=request.expires_at,
            create_fingerprint=print_,
        )
        if store.add_api_key(key):
            return 201, ApiKeySecret(**view_of(key, now).model_dump(), api_key=token)
        existing = store.get_api_key_fresh(group, key_id)  # a concurrent twin made it first
        assert existing is not None
    if existing.create_fingerprint != print_:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {idempotency_key!r} was already used with a different request",
            details=[{"field": "Idempotency-Key", "reason": "idempotency_key_reused"}],
        )
    return 200, ApiKeySecret(**view_of(existing, now).model_dump(), api_key=None)


def list_keys(
    store: GroupStore, group: str, limit: int, cursor: str | None, now: datetime
) -> tuple[list[ApiKeyView], str | None]:
    found, next_cursor = store.api_keys_page(group, limit, cursor)
    return [view_of(key, now) for key in found], next_cursor


def _key(store: GroupStore, group: str, key_id: str) -> ApiKey:
    key = store.get_api_key_fresh(group, key_id)
    if key is None:
        raise key_not_found(key_id)
    return key


def get_key(store: GroupStore, group: str, key_id: str, now: datetime) -> ApiKeyView:
    return view_of(_key(store, group, key_id), now)


def rotate_key(
    store: GroupStore,
    group: str,
    key_id: str,
    request: RotateKeyRequest,
    now: datetime,
    idempotency_key: str | None,
    *,
    calling_key_id: str | None = None,
) -> tuple[int, ApiKeySecret]:
    """201 and the key's new token (shown once); the token before keeps working for the grace.
    The same request again under the same Idempotency-Key changes nothing and answers 200
    without a token. A key rotating itself needs a grace (409 `grace_required_for_own_key`):
    grace 0 would end the secret it calls with before the caller has stored the new one."""
    if not idempotency_key:
        raise key_required("Idempotency-Key", "header")
    key = _key(store, group, key_id)
    print_ = fingerprint("rotate_api_key", request, group=group, key_id=key_id)
    if idempotency_key in key.rotations:
        if key.rotations[idempotency_key] != print_:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {idempotency_key!r} was already used with a different request",
                details=[{"field": "Idempotency-Key", "reason": "idempotency_key_reused"}],
            )
        return 200, ApiKeySecret(**view_of(key, now).model_dump(), api_key=None)
    if calling_key_id == key_id and not request.grace_seconds:
        raise Conflict(
            "a key rotating itself needs grace_seconds > 0: its current secret would end at once",
            code="grace_required_for_own_key",
            details=[{"in": "body", "field": "grace_seconds", "reason": "grace_required_for_own_key"}],
        )
    new_key, secret = rotated(key, request.grace_seconds, now, print_, idempotency_key)
    store.replace_api_key(new_key, key.version)
    token = token_of(group, key_id, secret)
    return 201, ApiKeySecret(**view_of(new_key, now).model_dump(), api_key=token)


def revoke_key(
    store: GroupStore, group: str, key_id: str, now: datetime, *, calling_key_id: str | None = None
) -> ApiKeyView:
    """The key refused from now on (modulo the authorizer's cache); revoking it again changes
    nothing. An admin may not revoke the key it calls with (409 `own_key`): another admin key or
    `loyalty-admin` does, so a group is not locked out by a slip."""
    key = _key(store, group, key_id)
    if calling_key_id == key_id:
        raise Conflict("a key cannot revoke itself: use another admin key or loyalty-admin", code="own_key")
    new_key = revoked(key, now)
    if new_key is not key:
        store.replace_api_key(new_key, key.version)
    return view_of(new_key, now)
