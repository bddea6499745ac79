"""Seed data: loyalty groups and their API keys, made with the access capability's own code
(`access.use_cases.create_api_key`, which names the group and makes each key as the API and
`loyalty-admin create-key` do, through `access.key_use_cases.create_key`) and, as `create-key`
does, each group's own usage key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loyalty_engine.access.models import Scope
from loyalty_engine.access.quota_use_cases import ensure_own_usage_key
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.use_cases import create_api_key
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.timeutil import utcnow


@dataclass(frozen=True)
class SeedGroup:
    group_id: str
    name: str


@dataclass(frozen=True)
class SeedKey:
    role: str  # the name the key is listed under in `LocalStack.keys` and stack.json
    scopes: tuple[Scope, ...]
    name: str


GROUPS: tuple[SeedGroup, ...] = (
    SeedGroup("demo", "Demo retailer"),
    SeedGroup("demo-b", "Another retailer (tenant isolation)"),
)
KEYS: tuple[SeedKey, ...] = (
    SeedKey("admin", ("admin",), "local admin key"),
    SeedKey("shop", ("shop",), "local shop key (tills and web shop)"),
    SeedKey("partner", ("partner",), "local partner key (file uploads and their reports)"),
)


def seed(
    table_name: str, groups: Sequence[SeedGroup] = GROUPS, keys: Sequence[SeedKey] = KEYS
) -> dict[str, dict[str, str]]:
    """Create the groups and one key per role in each; the tokens by group and role.

    Uses the handlers' DynamoDB client, so the local environment must be applied.
    """
    store = GroupStore(client(), table_name)
    tokens: dict[str, dict[str, str]] = {}
    for group in groups:
        tokens[group.group_id] = {
            key.role: create_api_key(store, group.group_id, key.scopes, name=key.name, group_name=group.name)
            for key in keys
        }
        # As `loyalty-admin create-key` does: each group its own usage key (its own bucket).
        ensure_own_usage_key(store, None, group.group_id, utcnow())
    return tokens
