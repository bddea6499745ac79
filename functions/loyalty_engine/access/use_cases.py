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
    new_api_key,
    parse_token,
    use_to_record,
    verify,
)
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.ids import new_id
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
    """Create the group if it does not exist, then a key bound to it; returns the token (shown once)."""
    now = utcnow()
    store.create_group(LoyaltyGroup(group_id=group, name=group_name or group, created_at=now))
    key, token = new_api_key(
        key_id=new_id(),
        group_id=group,
        name=name or f"{'+'.join(scopes)} key",
        scopes=list(scopes),
        merchant_id=merchant_id,
        now=now,
    )
    store.put_api_key(key)
    return token


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
