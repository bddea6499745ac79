"""Customers, stored centrally and organised in customer groups; cards and instruments link to them."""

from pydantic import Field, field_validator

from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import Model, Name, Slug


class CustomerGroupSpec(Model):
    name: Name = Field(min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=512)


class CustomerGroup(CustomerGroupSpec):
    customer_group_id: Slug
    created_at: UtcDatetime
    updated_at: UtcDatetime


class CustomerSpec(Model):
    first_name: Name | None = Field(default=None, max_length=128)
    last_name: Name | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")
    customer_groups: list[Slug] = Field(default_factory=list, max_length=50)

    @field_validator("customer_groups")
    @classmethod
    def _unique(cls, groups: list[str]) -> list[str]:
        if len(set(groups)) != len(groups):
            raise ValueError("customer groups must be unique")
        return sorted(groups)


class Customer(CustomerSpec):
    customer_id: Slug
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(
        default=0, ge=0, description="Incremented by every change of the customer or of its linked cards"
    )
    erased: bool = Field(
        default=False,
        description="True once the customer's personal data was erased (name, e-mail, phone blanked)",
    )
    erased_at: UtcDatetime | None = Field(default=None, description="When the personal data was erased")


class CustomerLinks(Model):
    """What is linked to a customer: member cards and instrument numbers."""

    card_codes: list[str] = Field(default_factory=list)
    instruments: list[str] = Field(default_factory=list)


class CustomerView(Customer):
    links: CustomerLinks


class CustomerGroupMember(Model):
    customer_id: Slug


class CustomerGroupMembers(Model):
    customers: list[CustomerGroupMember] = Field(description="By customer id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class CustomerGroupPage(Model):
    customer_groups: list[CustomerGroup] = Field(description="By customer group id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class CustomerPage(Model):
    customers: list[Customer] = Field(
        description="By customer id; without their links (GET /v1/customers/{customer_id} has them)"
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class CardLink(Model):
    model_config = {"extra": "forbid", "frozen": True}

    customer_id: Slug
