"""The engine's pydantic models (`kernel.model.DeferredModel`)."""

import importlib
import pkgutil

from pydantic import BaseModel

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
