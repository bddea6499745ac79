"""The base of the engine's pydantic models: each model's validator and serializer are built on
its first use instead of at import, so that a cold start pays only for the models its request
touches (an API function defines about a hundred and uses a few per request).

`protected_namespaces=()`: pydantic would otherwise check every field's name against the
`model_validate`/`model_dump` prefixes when each class is created, about a fifth of a deferred
model's creation; no field of the engine starts with `model_` (`tests/unit/test_models.py`
checks it), and a field shadowing a `BaseModel` attribute is still warned about by pydantic."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DeferredModel(BaseModel):
    model_config = ConfigDict(defer_build=True, protected_namespaces=())
