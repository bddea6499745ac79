"""Use cases of customers, customer groups and the links of member cards to customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.customers.models import (
    Customer,
    CustomerGroup,
    CustomerGroupSpec,
    CustomerLinks,
    CustomerSpec,
    CustomerView,
)
from loyalty_engine.customers.store import CustomerStore
from loyalty_engine.kernel.errors import InvalidRequest, NotFound


class CustomerContext(Protocol):
    @property
    def customers(self) -> CustomerStore: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


def customer_not_found(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id!r} not found", code="customer_not_found")


def put_customer_group(
    svc: CustomerContext, caller: Caller, customer_group_id: str, spec: CustomerGroupSpec
) -> tuple[int, CustomerGroup]:
    found = svc.customers.customer_group(caller.group_id, customer_group_id)
    now = svc.clock()
    customer_group = CustomerGroup(
        **spec.model_dump(),
        customer_group_id=customer_group_id,
        created_at=found.created_at if found else now,
        updated_at=now,
    )
    svc.customers.put_customer_group(caller.group_id, customer_group)
    return (200 if found else 201), customer_group


def get_customer_group(svc: CustomerContext, caller: Caller, customer_group_id: str) -> CustomerGroup:
    found = svc.customers.customer_group(caller.group_id, customer_group_id)
    if found is None:
        raise NotFound(f"customer group {customer_group_id!r} not found", code="customer_group_not_found")
    return found


def put_customer(
    svc: CustomerContext, caller: Caller, customer_id: str, spec: CustomerSpec
) -> tuple[int, CustomerView]:
    group = caller.group_id
    missing = sorted(
        set(spec.customer_groups) - svc.customers.existing_customer_groups(group, spec.customer_groups)
    )
    if missing:
        raise InvalidRequest(
            f"unknown customer groups {missing}",
            code="unknown_customer_group",
            details=[
                {"field": "customer_groups", "reason": "unknown_customer_group", "value": m} for m in missing
            ],
        )
    found = svc.customers.customer(group, customer_id)
    now = svc.clock()
    customer = Customer(
        **spec.model_dump(),
        customer_id=customer_id,
        created_at=found[0].created_at if found else now,
        updated_at=now,
    )
    svc.customers.put_customer(group, customer)
    links = found[1] if found else CustomerLinks()
    return (200 if found else 201), CustomerView(**customer.model_dump(), links=links)


def get_customer(svc: CustomerContext, caller: Caller, customer_id: str) -> CustomerView:
    found = svc.customers.customer(caller.group_id, customer_id)
    if found is None:
        raise customer_not_found(customer_id)
    customer, links = found
    return CustomerView(**customer.model_dump(), links=links)


def link_card(svc: CustomerContext, caller: Caller, card_code: str, customer_id: str) -> CustomerView:
    """Link a member card to a customer (idempotent; a card links to one customer at a time)."""
    group = caller.group_id
    previous = svc.customers.card_link(group, card_code)
    if previous != customer_id:
        svc.customers.link_card(group, customer_id, card_code, previous)
    return get_customer(svc, caller, customer_id)
