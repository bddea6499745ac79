"""Request fingerprints for idempotent writes.

A write is identified by a natural key (order id, burn id, return id, card code) or an
`Idempotency-Key` header. The first request stores its fingerprint and answer next to
the effect, in the same transaction; a replay with the same fingerprint gets the stored
answer, and one with another fingerprint is refused.
"""

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from loyalty_engine.kernel.errors import IdempotencyKeyReused, InvalidRequest
from loyalty_engine.kernel.model import DeferredModel

# An order id, burn id, redemption id, batch id...: the key a write is made once under.
NATURAL_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


def key_required(field: str, location: str = "body") -> InvalidRequest:
    """A write that has neither its natural key nor an Idempotency-Key header."""
    return InvalidRequest(
        f"{field} or an Idempotency-Key header is required"
        if location == "body"
        else "a generated card code needs an Idempotency-Key header (safe retries)",
        code="idempotency_key_required",
        details=[{"in": location, "field": field, "reason": "required"}],
    )


def _canonical(value: Any) -> Any:
    """Equal values spell alike: 129.9, "129.90" and 129.900 are the same amount."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    return value


def fingerprint(operation: str, request: BaseModel | dict[str, Any], **context: str) -> str:
    payload = request.model_dump() if isinstance(request, BaseModel) else request
    canonical = json.dumps(
        {"op": operation, "ctx": context, "req": _canonical(payload)}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class StoredAnswer(DeferredModel):
    fingerprint: str
    status: int
    body: dict[str, Any]

    def replay(self, request_fingerprint: str, key_name: str, key: str) -> tuple[int, dict[str, Any]]:
        if request_fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                f"{key_name} {key!r} was already used with a different request",
                details=[{"field": key_name, "reason": "idempotency_key_reused"}],
            )
        return self.status, self.body
