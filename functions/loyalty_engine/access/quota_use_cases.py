"""Use cases of a group's quota: the usage key the authorizer returns, every group's own usage
key (given when the group is made: `loyalty-admin create-key`; `quotas sync` for older groups),
and an operator setting a group's limits (stored on the group and applied to API Gateway's
usage plans).

Setting limits is an operator's act (`loyalty-admin quotas set`), never a group's own: a
tenant's admin key cannot raise its own limits. It is idempotent: the group's API Gateway
key is found by name, its plan by name, and both are brought to the limits asked for; the
group item is written last, so the authorizer only hands out a usage key that is already in
a plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from pydantic import Field

from loyalty_engine.access.quotas import GroupQuota, QuotaLimits, has_own_usage_key, usage_key_of
from loyalty_engine.access.store import GroupStore
from loyalty_engine.kernel.errors import DomainError, NotFound
from loyalty_engine.kernel.model import DeferredModel

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


def usage_key_for(store: GroupStore, group: str, default_usage_key: str | None) -> tuple[str | None, bool]:
    """The usage identifier the authorizer returns for a caller of `group`, and whether it is
    the stage's shared default key: the group's own API Gateway key (given when the group is
    made, `ensure_own_usage_key`), else, for a group never given one (made before keys were
    given on creation, and not synced yet), the default key that all such groups share."""
    quota = store.get_quota(group)
    if quota is not None and quota.usage_key:
        return quota.usage_key, False
    return default_usage_key, True


def ensure_own_usage_key(
    store: GroupStore, plans: UsagePlans | None, group: str, now: datetime
) -> tuple[GroupQuota, bool]:
    """Give the group its own usage key on this API if it has none yet, on the plan its limits
    say (none: the stage's default plan, with a bucket of its own); True when it was given one
    now. A group whose key is already this API's is left alone (no API Gateway call)."""
    quota = store.get_quota(group)
    namespace = plans.namespace if plans is not None else LOCAL_NAMESPACE
    if quota is not None and has_own_usage_key(quota, group, namespace):
        return quota, False
    limits = quota.limits if quota is not None else None
    return set_group_quota(store, plans, group, limits, now), True


class UsageKeySync(DeferredModel):
    """What `loyalty-admin quotas sync` did: the groups given their own key now, those that had
    one, and those it failed for (with the reason; running it again finishes them)."""

    given: list[str] = Field(default_factory=list)
    already: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)


def sync_usage_keys(
    store: GroupStore, plans: UsagePlans | None, groups: Iterable[str], now: datetime
) -> UsageKeySync:
    """`ensure_own_usage_key` for each group (idempotent: a second run gives none)."""
    report = UsageKeySync()
    for group in groups:
        try:
            _, given = ensure_own_usage_key(store, plans, group, now)
        except DomainError as error:
            report.failed[group] = f"{error.code}: {error.message}"
            continue
        (report.given if given else report.already).append(group)
    return report


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
