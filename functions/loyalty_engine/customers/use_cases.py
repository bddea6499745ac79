"""Use cases of customers, customer groups and the links of member cards to customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.customers.models import (
    Customer,
    CustomerGroup,
    CustomerGroupMember,
    CustomerGroupMembers,
    CustomerGroupPage,
    CustomerGroupSpec,
    CustomerLinks,
    CustomerPage,
    CustomerSpec,
    CustomerView,
)
from loyalty_engine.customers.store import CustomerStore, StaleCustomer
from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, InvalidRequest, NotFound
from loyalty_engine.kernel.item_access import ConditionsFailed
from loyalty_engine.kernel.retry import RACE, attempts
from loyalty_engine.kernel.types import same_spec

MAX_ATTEMPTS = 10


class CustomerContext(Protocol):
    @property
    def customers(self) -> CustomerStore: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


def customer_not_found(customer_id: str) -> NotFound:
    return NotFound(f"customer {customer_id!r} not found", code="customer_not_found")


def customer_erased(customer_id: str) -> Conflict:
    return Conflict(
        f"customer {customer_id!r} was erased: its personal data cannot be stored again under this id",
        code="customer_erased",
    )


def put_customer_group(
    svc: CustomerContext, caller: Caller, customer_group_id: str, spec: CustomerGroupSpec
) -> tuple[int, CustomerGroup]:
    found = svc.customers.customer_group(caller.group_id, customer_group_id)
    if found is not None and same_spec(spec, found):
        return 200, found  # a replay changes nothing
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


def list_customer_groups(
    svc: CustomerContext, caller: Caller, limit: int, cursor: str | None
) -> CustomerGroupPage:
    """One page of the caller's group's customer groups, by id."""
    found, next_cursor = svc.customers.customer_groups_page(caller.group_id, limit, cursor)
    return CustomerGroupPage(customer_groups=found, next_cursor=next_cursor)


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
    for _ in attempts(MAX_ATTEMPTS, RACE):
        found = svc.customers.customer(group, customer_id)
        now = svc.clock()
        previous, links = found if found else (None, CustomerLinks())
        if previous is not None and previous.erased:
            raise customer_erased(customer_id)
        if previous is not None and same_spec(spec, previous):  # a replay: no new version
            try:
                svc.customers.keep_customer(group, previous)
            except ConditionsFailed:
                continue  # it changed meanwhile: read again
            return 200, CustomerView(**previous.model_dump(), links=links)
        customer = Customer(
            **spec.model_dump(),
            customer_id=customer_id,
            created_at=previous.created_at if previous else now,
            updated_at=now,
            version=(previous.version if previous else 0) + 1,
        )
        try:
            svc.customers.put_customer(group, customer, previous, links.card_codes)
        except ConditionsFailed:
            continue  # the customer or its links changed meanwhile: read again
        return (200 if found else 201), CustomerView(**customer.model_dump(), links=links)
    raise ConcurrentUpdate("too many concurrent changes to this customer; retry")


def customer_group_customers(
    svc: CustomerContext, caller: Caller, customer_group_id: str, limit: int, cursor: str | None
) -> CustomerGroupMembers:
    """One page of a customer group's customers, by customer id."""
    get_customer_group(svc, caller, customer_group_id)
    ids, next_cursor = svc.customers.customer_group_members(caller.group_id, customer_group_id, limit, cursor)
    return CustomerGroupMembers(
        customers=[CustomerGroupMember(customer_id=i) for i in ids], next_cursor=next_cursor
    )


def list_customers(
    svc: CustomerContext, caller: Caller, limit: int, cursor: str | None, email: str | None = None
) -> CustomerPage:
    """One page of the caller's group's customers, by customer id (without their links); with
    `email`, only those with that e-mail (an erased customer has none)."""
    if email is not None:
        found, next_cursor = svc.customers.customers_by_email(caller.group_id, email, limit, cursor)
        return CustomerPage(customers=found, next_cursor=next_cursor)
    found, next_cursor = svc.customers.customers_page(caller.group_id, limit, cursor)
    return CustomerPage(customers=found, next_cursor=next_cursor)


def get_customer(svc: CustomerContext, caller: Caller, customer_id: str) -> CustomerView:
    found = svc.customers.customer(caller.group_id, customer_id)
    if found is None:
        raise customer_not_found(customer_id)
    customer, links = found
    return CustomerView(**customer.model_dump(), links=links)


def link_card(svc: CustomerContext, caller: Caller, card_code: str, customer_id: str) -> CustomerView:
    """Link a member card to a customer (idempotent; a card links to one customer at a time), and
    copy the customer's groups onto the member (the earning rules read them there)."""
    group = caller.group_id
    for _ in attempts(MAX_ATTEMPTS, RACE):
        found = svc.customers.customer(group, customer_id)
        if found is None:
            raise customer_not_found(customer_id)
        customer, _links = found
        previous_id = svc.customers.card_link(group, card_code)
        if previous_id == customer_id:
            return get_customer(svc, caller, customer_id)
        if customer.erased:  # a returning person is a new customer id (privacy.md)
            raise customer_erased(customer_id)
        previous = None
        if previous_id is not None:
            left = svc.customers.customer(group, previous_id)
            previous = (previous_id, left[0].version if left else 0)
        try:
            svc.customers.link_card(group, customer, card_code, previous)
        except StaleCustomer:
            continue
        return get_customer(svc, caller, customer_id)
    raise ConcurrentUpdate("too many concurrent changes to this customer; retry")
