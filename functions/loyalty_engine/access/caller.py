"""The caller of an API request, from the authorizer's context (never from the request)."""

from __future__ import annotations

from typing import Any, cast

from loyalty_engine.access.models import SCOPES, Caller, Scope
from loyalty_engine.kernel.errors import Unauthorized


def authorizer_context(caller: Caller) -> dict[str, str]:
    """What the authorizer hands to API Gateway (string values only)."""
    return {
        "group": caller.group_id,
        "key_id": caller.key_id,
        "scopes": ",".join(caller.scopes),
        "merchant_id": caller.merchant_id or "",
    }


def caller_from_context(context: dict[str, Any] | None) -> Caller:
    if not context or not context.get("group") or not context.get("key_id"):
        raise Unauthorized("no authorized caller")
    scopes = tuple(cast(Scope, s) for s in str(context.get("scopes", "")).split(",") if s in SCOPES)
    return Caller(
        group_id=str(context["group"]),
        key_id=str(context["key_id"]),
        scopes=scopes,
        merchant_id=str(context.get("merchant_id") or "") or None,
    )
