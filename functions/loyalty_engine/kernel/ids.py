"""Ids of new objects: ULIDs (time-ordered, 26 characters of Crockford base 32)."""

from __future__ import annotations

from ulid import ULID


def new_id() -> str:
    return str(ULID())
