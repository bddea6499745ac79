"""Use cases of merchants and merchant groups (admin keys)."""

from __future__ import annotations

from loyalty_engine.access.models import Caller
from loyalty_engine.instruments.context import InstrumentServices
from loyalty_engine.instruments.merchants import (
    Merchant,
    MerchantGroup,
    MerchantGroupPage,
    MerchantGroupSpec,
    MerchantPage,
    MerchantSpec,
)
from loyalty_engine.kernel.errors import Conflict, NotFound
from loyalty_engine.kernel.retry import RACE, attempts
from loyalty_engine.kernel.types import same_spec

MAX_ATTEMPTS = 5


def put_merchant_group(
    svc: InstrumentServices, caller: Caller, merchant_group_id: str, spec: MerchantGroupSpec
) -> tuple[int, MerchantGroup]:
    found = svc.merchants.merchant_group(caller.group_id, merchant_group_id)
    if found is not None and same_spec(spec, found):
        return 200, found  # a replay changes nothing
    now = svc.clock()
    merchant_group = MerchantGroup(
        **spec.model_dump(),
        merchant_group_id=merchant_group_id,
        created_at=found.created_at if found else now,
        updated_at=now,
    )
    svc.merchants.put_merchant_group(caller.group_id, merchant_group)
    return (200 if found else 201), merchant_group


def get_merchant_group(svc: InstrumentServices, caller: Caller, merchant_group_id: str) -> MerchantGroup:
    found = svc.merchants.merchant_group(caller.group_id, merchant_group_id)
    if found is None:
        raise NotFound(f"merchant group {merchant_group_id!r} not found", code="merchant_group_not_found")
    return found


def put_merchant(
    svc: InstrumentServices, caller: Caller, merchant_id: str, spec: MerchantSpec
) -> tuple[int, Merchant]:
    """Create (201) or replace (200) a merchant; its store id is unique and its groups must exist.
    A merchant changed meanwhile (the same PUT racing itself, say) is read again: a replay
    answers 200, another change is made on top of it."""
    for _ in attempts(MAX_ATTEMPTS, RACE):
        found = svc.merchants.merchant(caller.group_id, merchant_id)
        if found is not None and same_spec(spec, found):
            return 200, found  # a replay changes nothing (its store id and groups are as they were)
        now = svc.clock()
        merchant = Merchant(
            **spec.model_dump(),
            merchant_id=merchant_id,
            version=found.version + 1 if found else 1,
            created_at=found.created_at if found else now,
            updated_at=now,
        )
        if svc.merchants.put_merchant(caller.group_id, merchant, found, spec.merchant_groups):
            return (200 if found else 201), merchant
    raise Conflict("the merchant was changed concurrently; retry", code="concurrent_update")


def get_merchant(svc: InstrumentServices, caller: Caller, merchant_id: str) -> Merchant:
    found = svc.merchants.merchant(caller.group_id, merchant_id)
    if found is None:
        raise NotFound(f"merchant {merchant_id!r} not found", code="merchant_not_found")
    return found


def list_merchant_groups(
    svc: InstrumentServices, caller: Caller, limit: int, cursor: str | None
) -> MerchantGroupPage:
    """One page of the caller's group's merchant groups, by id."""
    found, next_cursor = svc.merchants.merchant_groups_page(caller.group_id, limit, cursor)
    return MerchantGroupPage(merchant_groups=found, next_cursor=next_cursor)


def list_merchants(svc: InstrumentServices, caller: Caller, limit: int, cursor: str | None) -> MerchantPage:
    """One page of the caller's group's merchants, by id."""
    found, next_cursor = svc.merchants.merchants_page(caller.group_id, limit, cursor)
    return MerchantPage(merchants=found, next_cursor=next_cursor)
