"""Merchants (stores) and merchant groups: who may sell and who may accept a series' instruments."""

from pydantic import Field, field_validator

from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import Model, Name, Slug

STORE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class MerchantGroupSpec(Model):
    name: Name = Field(min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=512)


class MerchantGroup(MerchantGroupSpec):
    merchant_group_id: Slug
    created_at: UtcDatetime
    updated_at: UtcDatetime


class MerchantSpec(Model):
    name: Name = Field(min_length=1, max_length=128)
    store_id: str = Field(pattern=STORE_ID_PATTERN, description="The store's id in the retailer's systems")
    merchant_groups: list[Slug] = Field(
        default_factory=list, max_length=50, description="The merchant groups the merchant belongs to"
    )

    @field_validator("merchant_groups")
    @classmethod
    def _unique(cls, groups: list[str]) -> list[str]:
        if len(set(groups)) != len(groups):
            raise ValueError("merchant groups must be unique")
        return sorted(groups)


class Merchant(MerchantSpec):
    merchant_id: Slug
    version: int = Field(default=1, ge=1)
    created_at: UtcDatetime
    updated_at: UtcDatetime

    def belongs_to(self, merchant_group_id: str) -> bool:
        return merchant_group_id in self.merchant_groups


class MerchantGroupPage(Model):
    merchant_groups: list[MerchantGroup] = Field(description="By merchant group id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class MerchantPage(Model):
    merchants: list[Merchant] = Field(description="By merchant id")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")
