"""The engine's pydantic models (`kernel.model.DeferredModel`)."""

import importlib
import pkgutil

import pytest
from pydantic import BaseModel, ValidationError

import loyalty_engine
from loyalty_engine.kernel.model import DeferredModel


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_model_is_deferred_and_no_field_takes_pydantics_model_prefix() -> None:
    """DeferredModel turns pydantic's protected namespaces off (a cold-start cost): this is the
    check they made, on every model of the package."""
    for module in pkgutil.walk_packages(loyalty_engine.__path__, "loyalty_engine."):
        importlib.import_module(module.name)
    models = {m for m in _subclasses(BaseModel) if m.__module__.startswith("loyalty_engine.")}
    assert len(models) > 100
    assert not {m for m in models if not issubclass(m, DeferredModel)}
    clashing = {
        (m.__qualname__, name) for m in models for name in m.model_fields if name.startswith("model_")
    }
    assert not clashing


NOW = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("model", "values", "field", "limit"),
    [
        (
            "orders.OrderRequest",
            {"order_id": "o-1", "amount": "1", "currency": "EUR", "ordered_at": NOW},
            "store_id",
            64,
        ),
        ("orders.OrderLine", {"sku": "SKU-1", "quantity": 1, "amount": "1"}, "product_group", 64),
        ("rewards.BuyRequest", {"reward_id": "coffee"}, "store_id", 128),
        ("rewards.BurnAttributionRequest", {}, "store_id", 128),
    ],
)
def test_an_optional_id_too_long_says_so_in_characters(
    model: str, values: dict, field: str, limit: int
) -> None:
    """An optional id that refuses control characters (a Name) is still a string too long
    (`string_too_long`, 'at most N characters') past its length, as it was before it refused
    them; not pydantic's generic 'Value should have at most N items after validation'."""
    from loyalty_engine.points import orders
    from loyalty_engine.rewards import models as rewards

    module, name = model.split(".")
    cls = getattr({"orders": orders, "rewards": rewards}[module], name)
    with pytest.raises(ValidationError) as raised:
        cls.model_validate({**values, field: "s" * (limit + 1)})
    problems = [(p["loc"], p["type"], p["msg"]) for p in raised.value.errors() if p["loc"] == (field,)]
    assert problems == [((field,), "string_too_long", f"String should have at most {limit} characters")]
    assert cls.model_validate({**values, field: "s" * limit}).model_dump()[field] == "s" * limit
