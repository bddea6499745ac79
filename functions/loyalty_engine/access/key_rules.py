"""An API key's lifecycle, pure: what an admin may ask (create, rotate), what it sees (never the
secret nor its hash), and the rules of rotation (grace), expiry and revocation.

- A rotation gives the key a new secret; the secret it had keeps working until `now + grace`
  (0 s to 7 days), then is refused. A second rotation forgets the secret before the last one.
- A key whose `expires_at` has passed, or a revoked key, is refused by the authorizer
  (`models.verify`); neither can be rotated (409).
"""

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from loyalty_engine.access.models import ApiKey, Scope, digest, new_secret
from loyalty_engine.kernel.errors import Conflict, InvalidRequest
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import SLUG_PATTERN, Name

MAX_GRACE_S = 7 * 24 * 3600
# A retried rotation is recognised by its Idempotency-Key among the key's last rotations.
ROTATIONS_KEPT = 20
NAME_MAX = 100
KeyStatus = Literal["active", "expired", "revoked"]


class CreateKeyRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=NAME_MAX, description="A label for the key")
    scopes: list[Scope] = Field(min_length=1, max_length=3, description="admin, shop and/or partner")
    merchant_id: str | None = Field(
        default=None, pattern=SLUG_PATTERN, description="Bind the key to this merchant of the group"
    )
    expires_at: UtcDatetime | None = Field(
        default=None, description="From this instant the key is refused (with its offset; in the future)"
    )

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[Scope]) -> list[Scope]:
        return sorted(set(scopes), key=scopes.index)


class RotateKeyRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(
        ge=0,
        le=MAX_GRACE_S,
        strict=True,
        description="How long the secret before this rotation keeps working (0 to 7 days)",
    )


class ApiKeyView(DeferredModel):
    """A key as an admin sees it: never its secret nor the secret's hash."""

    key_id: str
    name: str
    scopes: list[Scope]
    merchant_id: str | None
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None
    rotated_at: datetime | None
    previous_secret_valid_until: datetime | None = Field(
        description="Until when the secret before the last rotation is accepted (null: not at all)"
    )
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        description="When a request with the key was last accepted, with either secret (up to 10 minutes "
        "earlier than the last request, and up to a minute more while the authorizer's answer is cached)"
    )
    previous_secret_last_used_at: datetime | None = Field(
        description="When a request with the secret before the last rotation was last accepted since that "
        "rotation, to the same precision (null: not since): a client not yet moved to the new secret"
    )


class ApiKeySecret(ApiKeyView):
    api_key: str | None = Field(
        description="The key to send as `Authorization: Bearer <api_key>`, shown once: null when "
        "the answer is a replay of the same request (the secret is not kept, only its hash)"
    )


class ApiKeyPage(DeferredModel):
    keys: list[ApiKeyView] = Field(description="In key id order")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def status_of(key: ApiKey, now: datetime) -> KeyStatus:
    if key.revoked:
        return "revoked"
    if key.expires_at is not None and now >= key.expires_at:
        return "expired"
    return "active"


def view_of(key: ApiKey, now: datetime) -> ApiKeyView:
    previous = key.previous_valid_until if key.previous_secret_sha256 else None
    return ApiKeyView(
        key_id=key.key_id,
        name=key.name,
        scopes=key.scopes,
        merchant_id=key.merchant_id,
        status=status_of(key, now),
        created_at=key.created_at,
        expires_at=key.expires_at,
        rotated_at=key.rotated_at,
        previous_secret_valid_until=previous if previous is not None and previous > now else None,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        previous_secret_last_used_at=key.previous_secret_last_used_at,
    )


def key_id_for(group: str, idempotency_key: str) -> str:
    """The id of the key a create request makes: derived from its Idempotency-Key, so that a
    retried create finds the key the first attempt made instead of minting a second one."""
    raw = hashlib.sha256(f"{group}\n{idempotency_key}".encode()).digest()
    return base64.b32encode(raw).decode()[:26]


def check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest(
            "expires_at must be in the future",
            code="expires_in_past",
            details=[{"in": "body", "field": "expires_at", "reason": "expires_in_past"}],
        )


def _usable(key: ApiKey, now: datetime) -> None:
    status = status_of(key, now)
    if status != "active":
        raise Conflict(f"API key {key.key_id} is {status}", code=f"key_{status}")


def rotated(
    key: ApiKey, grace_seconds: int, now: datetime, fingerprint: str, rotation_key: str
) -> tuple[ApiKey, str]:
    """The key with a new secret (returned too) and its current one accepted for `grace_seconds`."""
    _usable(key, now)
    secret = new_secret()
    until = now + timedelta(seconds=grace_seconds)
    return (
        key.model_copy(
            update={
                "secret_sha256": digest(secret),
                "previous_secret_sha256": key.secret_sha256 if grace_seconds else None,
                "previous_valid_until": until if grace_seconds else None,
                "previous_secret_last_used_at": None,  # the secret before this rotation: not seen since
                "rotated_at": now,
                "rotations": dict(
                    list({**key.rotations, rotation_key: fingerprint}.items())[-ROTATIONS_KEPT:]
                ),
                "version": key.version + 1,
            }
        ),
        secret,
    )


def revoked(key: ApiKey, now: datetime) -> ApiKey:
    """The key refused from now on (a revoked key stays as it is: revoking is idempotent)."""
    if key.revoked:
        return key
    return key.model_copy(update={"revoked": True, "revoked_at": now, "version": key.version + 1})
