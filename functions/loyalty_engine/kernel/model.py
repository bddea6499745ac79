"""The base of the engine's pydantic models: each model's validator and serializer are built on
its first use instead of at import, so that a cold start pays only for the models its request
touches (an API function defines about a hundred and uses a few per request)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DeferredModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
