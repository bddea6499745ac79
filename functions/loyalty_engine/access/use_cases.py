"""Use cases of access: create a group's API key, and resolve a presented key to its caller."""

from __future__ import annotations

from collections.abc import Sequence

from loyalty_engine.access.models import Caller, LoyaltyGroup, Scope, new_api_key, parse_token, verify
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


def authorize(store: GroupStore, authorization: str | None) -> Caller:
    """The caller an `Authorization: Bearer <key>` header stands for; `Unauthorized` otherwise."""
    group, key_id, secret = parse_token(authorization)
    return verify(store.get_api_key(group, key_id), secret)
