"""Use cases of access: create a group's API key, resolve a presented key to its caller, read
and replace the caller's group settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from loyalty_engine.access.models import (
    Caller,
    GroupSettings,
    KeyUse,
    LoyaltyGroup,
    Scope,
    parse_token,
    use_to_record,
    verify,
)
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.timeutil import utcnow


def create_api_key(
    store: GroupStore,
    group: str,
    scopes: Sequence[Scope],
    *,
    name: str = "",
    merchant_id: str | None = None,
    group_name: str | None = None,
) -> str:
    """Create the group (named `group_name`) if it does not exist, then a key bound to it; returns
    the token (shown once). The bootstrap of a stack (its seed, tests): the key is made as the
    API's and `loyalty-admin create-key`'s are (`key_use_cases.create_key`), without an
    Idempotency-Key and with `merchant_id` taken as given (no merchant directory is asked)."""
    from loyalty_engine.access.key_rules import CreateKeyRequest  # not in the authorizer's cold import
    from loyalty_engine.access.key_use_cases import create_key

    now = utcnow()
    store.create_group(LoyaltyGroup(group_id=group, name=group_name or group, created_at=now))
    request = CreateKeyRequest(
        name=name or f"{'+'.join(scopes)} key", scopes=list(scopes), merchant_id=merchant_id
    )
    _, made = create_key(store, group, request, now, lambda _group, _merchant: True, None)
    if made.api_key is None:  # never: without an Idempotency-Key every key is new
        raise RuntimeError(f"no token for the new key {made.key_id} of group {group!r}")
    return made.api_key


def authorize(store: GroupStore, authorization: str | None, now: datetime | None = None) -> Caller:
    """The caller an `Authorization: Bearer <key>` header stands for; `Unauthorized` otherwise
    (unknown, revoked or expired key, wrong secret, a secret rotated out past its grace)."""
    return authorize_use(store, authorization, now or utcnow())[0]


def authorize_use(
    store: GroupStore, authorization: str | None, now: datetime
) -> tuple[Caller, KeyUse | None]:
    """`authorize`, and the use of the key to record (`models.use_to_record`), if any."""
    group, key_id, secret = parse_token(authorization)
    key = store.get_api_key(group, key_id)
    caller = verify(key, secret, now)
    return caller, use_to_record(key, secret, now) if key is not None else None


def group_settings(store: GroupStore, caller: Caller) -> GroupSettings:
    """The caller's group's settings (the defaults if the group was never stored)."""
    group = store.get_group(caller.group_id)
    return group.settings if group is not None else GroupSettings()


def put_group_settings(
    store: GroupStore, caller: Caller, settings: GroupSettings, now: datetime
) -> GroupSettings:
    """Replace the caller's group's settings: a setting left out is back to its default, and the
    same body again changes nothing. The group is the key's, never one named by the request."""
    return store.put_settings(caller.group_id, settings, now).settings
