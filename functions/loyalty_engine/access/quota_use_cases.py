"""Use cases of a group's quota: the usage key the authorizer returns, and an operator setting
a group's limits (stored on the group and applied to API Gateway's usage plans).

Setting limits is an operator's act (`loyalty-admin quotas set`), never a group's own: a
tenant's admin key cannot raise its own limits. It is idempotent: the group's API Gateway
key is found by name, its plan by name, and both are brought to the limits asked for; the
group item is written last, so the authorizer only hands out a usage key that is already in
a plan.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from loyalty_engine.access.quotas import GroupQuota, QuotaLimits, usage_key_of
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.errors import NotFound

LOCAL_NAMESPACE = "local"  # the usage keys' namespace where no API Gateway is configured


class UsagePlans(Protocol):
    """API Gateway's usage plans of the stage's REST API (`access.usage_plan_store`)."""

    @property
    def namespace(self) -> str:
        """What the group's usage key is derived with (the REST API's id)."""
        ...

    def apply(self, group: str, usage_key: str, limits: QuotaLimits | None) -> tuple[str, str]:
        """Ensure the group's API key (value `usage_key`) is in the group's own plan with these
        limits, or in the stage's default plan (None); returns (key id, plan id)."""
        ...


def usage_key_for(store: GroupStore, group: str, default_usage_key: str | None) -> str | None:
    """The usage identifier the authorizer returns for a caller of `group`: the group's own API
    Gateway key once an operator has applied its quota, else the stage's default key."""
    quota = store.get_quota(group)
    if quota is not None and quota.usage_key:
        return quota.usage_key
    return default_usage_key


def group_quota(store: GroupStore, group: str) -> GroupQuota:
    """The group's quota as stored (a group never given one: the default plan)."""
    if store.get_group(group) is None:
        raise NotFound(f"loyalty group {group!r} not found", code="group_not_found")
    return store.get_quota(group) or GroupQuota()


def set_group_quota(
    store: GroupStore, plans: UsagePlans | None, group: str, limits: QuotaLimits | None, now: datetime
) -> GroupQuota:
    """Give the group these limits (None: back to the stage's default plan). With `plans` (a
    deployed stage) the group's API Gateway key and plan are brought in line first; without
    (the local stack), only the group item is written, and the local gateway enforces it."""
    if store.get_group(group) is None:
        raise NotFound(f"loyalty group {group!r} not found", code="group_not_found")
    if plans is None:
        quota = GroupQuota(limits=limits, usage_key=usage_key_of(group, LOCAL_NAMESPACE), updated_at=now)
    else:
        usage_key = usage_key_of(group, plans.namespace)
        key_id, plan_id = plans.apply(group, usage_key, limits)
        quota = GroupQuota(
            limits=limits, usage_key=usage_key, usage_key_id=key_id, usage_plan_id=plan_id, updated_at=now
        )
    store.put_quota(group, quota)
    return quota


def describe(quota: GroupQuota) -> dict[str, object]:
    """What an operator is shown: the limits in force and where they come from."""
    return {
        "plan": "group" if quota.limits is not None else "default",  # default: the stage's default plan
        "limits": quota.limits.model_dump(mode="json") if quota.limits is not None else None,
        "usage_key_id": quota.usage_key_id,
        "usage_plan_id": quota.usage_plan_id,
        "updated_at": quota.updated_at.isoformat() if quota.updated_at else None,
    }
