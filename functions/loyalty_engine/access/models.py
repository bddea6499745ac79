"""Loyalty groups (tenants) and the API keys that bind a caller to one of them.

A token reads `lk.<group>.<key_id>.<secret>`: the group and key id locate the stored
key; only the SHA-256 of the secret is stored, and it is compared in constant time.
The group of every request comes from the key, never from the request.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from pydantic import ConfigDict, Field

from loyalty_engine.access.quotas import GroupQuota
from loyalty_engine.kernel.errors import Forbidden, Unauthorized
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.types import SLUG_PATTERN

# `partner`: a partner's key, for its group's file uploads and import reports only (wiring.API_ROUTES).
Scope = Literal["admin", "shop", "partner"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
TOKEN_PREFIX = "lk"  # noqa: S105 - the token prefix, not a secret
_SLUG = re.compile(SLUG_PATTERN)
_KEY_ID = re.compile(r"^[0-9A-Z]{26}$")
LAST_USE_STEP_S = 600  # a key's recorded last use is at most this much older than its real one


class GroupSettings(DeferredModel):
    """A loyalty group's settings (`PUT /v1/group/settings` replaces them all)."""

    model_config = ConfigDict(extra="forbid")

    null_erases: bool = Field(
        default=False,
        strict=True,
        description="In partner files, a value of exactly NULL erases the stored value (otherwise it is ignored)",
    )
    import_quiet_period_s: int | None = Field(
        default=None,
        ge=0,
        le=900,
        strict=True,
        description="Seconds without a new upload of the group before its files are applied "
        "(null: the stage's default, 120 s; 0: at once)",
    )
    audit_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        strict=True,
        description="Days an audit record is kept (its TTL, set when it is written; null: 365)",
    )


class LoyaltyGroup(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str = Field(pattern=SLUG_PATTERN)
    name: str
    settings: GroupSettings = GroupSettings()
    created_at: datetime
    # Set by an operator only (`loyalty-admin quotas`), never by the group's own keys.
    quota: GroupQuota | None = None


class ApiKey(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    key_id: str
    group_id: str
    name: str
    scopes: list[Scope] = Field(min_length=1)
    merchant_id: str | None = None
    secret_sha256: str
    created_at: datetime
    revoked: bool = False
    # The lifecycle (`access.key_rules`): an optional end, the secret before the last rotation
    # and until when it is still accepted, when it was revoked; `version` guards replacements.
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_at: datetime | None = None
    previous_secret_sha256: str | None = None
    previous_valid_until: datetime | None = None
    # The request fingerprints the key was created and rotated under (idempotent retries).
    create_fingerprint: str | None = None
    rotations: dict[str, str] = Field(default_factory=dict)
    version: int = 0
    # When the authorizer last accepted the key, and its secret before the last rotation (to
    # within LAST_USE_STEP_S: `use_to_record`); written by the authorizer alone, never versioned.
    last_used_at: datetime | None = None
    previous_secret_last_used_at: datetime | None = None


class Caller(DeferredModel):
    """Who is calling, as resolved by the authorizer from the key."""

    model_config = ConfigDict(frozen=True)

    group_id: str
    key_id: str
    scopes: tuple[Scope, ...]
    merchant_id: str | None = None

    def require(self, allowed: tuple[str, ...]) -> None:
        if not set(self.scopes) & set(allowed):
            raise Forbidden(f"this key's scopes {list(self.scopes)} do not allow this operation")


@dataclass(frozen=True)
class KeyUse:
    """An accepted key's use to record: when, and whether with its secret before the last rotation."""

    group_id: str
    key_id: str
    at: datetime
    previous_secret: bool


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token_of(group_id: str, key_id: str, secret: str) -> str:
    return f"{TOKEN_PREFIX}.{group_id}.{key_id}.{secret}"


def new_api_key(
    *,
    key_id: str,
    group_id: str,
    name: str,
    scopes: list[Scope],
    merchant_id: str | None,
    now: datetime,
    expires_at: datetime | None = None,
    create_fingerprint: str | None = None,
) -> tuple[ApiKey, str]:
    secret = new_secret()
    key = ApiKey(
        key_id=key_id,
        group_id=group_id,
        name=name,
        scopes=scopes,
        merchant_id=merchant_id,
        secret_sha256=digest(secret),
        created_at=now,
        expires_at=expires_at,
        create_fingerprint=create_fingerprint,
    )
    return key, token_of(group_id, key_id, secret)


def parse_token(authorization: str | None) -> tuple[str, str, str]:
    """`Bearer lk.<group>.<key_id>.<secret>` → (group, key_id, secret). Anything else is
    Unauthorized, never another error (the authorizer would fail: a 500): a value that is not
    text, a secret that is not printable ASCII (a lone surrogate cannot even be hashed)."""
    if not authorization:
        raise Unauthorized("missing Authorization header")
    if not isinstance(authorization, str):
        raise Unauthorized("the Authorization header is not text")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization must be `Bearer <key>`")
    parts = token.strip().split(".")
    if (
        len(parts) != 4
        or parts[0] != TOKEN_PREFIX
        or not _SLUG.fullmatch(parts[1])
        or not _KEY_ID.fullmatch(parts[2])
        or not (parts[3].isascii() and parts[3].isprintable())
    ):
        raise Unauthorized("malformed API key")
    return parts[1], parts[2], parts[3]


def use_to_record(key: ApiKey, secret: str, now: datetime) -> KeyUse | None:
    """The use of an accepted key worth recording, or None when what it would record is less than
    LAST_USE_STEP_S old. The authorizer runs once per cached key anyway, so a busy key costs one
    small write every LAST_USE_STEP_S at most."""
    presented = digest(secret)
    previous = (
        key.previous_secret_sha256 is not None
        and not hmac.compare_digest(key.secret_sha256, presented)
        and hmac.compare_digest(key.previous_secret_sha256, presented)
    )
    step = timedelta(seconds=LAST_USE_STEP_S)
    stale = [key.last_used_at, key.previous_secret_last_used_at] if previous else [key.last_used_at]
    if all(last is not None and now - last < step for last in stale):
        return None
    return KeyUse(group_id=key.group_id, key_id=key.key_id, at=now, previous_secret=previous)


def verify(key: ApiKey | None, secret: str, now: datetime) -> Caller:
    """The caller of a presented secret: the key's current secret, or the one it had before its
    last rotation until that one's grace ends; never a revoked or expired key."""
    # Compare even when the key is unknown, so timing does not reveal which key ids exist.
    presented = digest(secret)
    expected = key.secret_sha256 if key is not None else "0" * 64
    matches = hmac.compare_digest(expected, presented)
    if key is not None and key.previous_secret_sha256 and key.previous_valid_until:
        previous = hmac.compare_digest(key.previous_secret_sha256, presented)
        matches = matches or (previous and now < key.previous_valid_until)
    expired = key is not None and key.expires_at is not None and now >= key.expires_at
    if key is None or not matches or key.revoked or expired:
        raise Unauthorized("invalid API key")
    return Caller(
        group_id=key.group_id, key_id=key.key_id, scopes=tuple(key.scopes), merchant_id=key.merchant_id
    )
