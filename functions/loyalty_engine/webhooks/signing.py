"""Webhook signatures, as Stripe documents its scheme: a timestamp and an HMAC-SHA256 over
`f"{t}.{body}"` with the subscription's secret, in one header:

    Loyalty-Signature: t=1796000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

During a secret rotation's grace, a delivery carries one `v1=` per valid secret (the new one
first): a receiver that still holds the old secret keeps verifying. `verify` is the receiver's
side, documented in docs/webhooks.md: compare in constant time, refuse old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

SIGNATURE_HEADER = "Loyalty-Signature"
EVENT_ID_HEADER = "Loyalty-Event-Id"
EVENT_KIND_HEADER = "Loyalty-Event-Kind"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SCHEME = "v1"
# A receiver refuses a signature whose timestamp is further than this from its clock.
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    """A signing secret: 32 random bytes, URL-safe text, with a recognisable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of `f"{timestamp}.{body}"` under the secret (its UTF-8 bytes)."""
    payload = body if isinstance(body, bytes) else body.encode()
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_: Sequence[str], timestamp: int, body: str | bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>...]`: one signature per secret, in order."""
    if not secrets_:
        raise ValueError("at least one secret is needed to sign")
    return ",".join([f"t={timestamp}", *(f"{SCHEME}={sign(s, timestamp, body)}" for s in secrets_)])


class SignatureError(ValueError):
    """The signature header is missing, malformed, too old or matches no signature."""


def parse_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and the `v1` signatures of a header; other schemes are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("no timestamp or no v1 signature in the header")
    return timestamp, signatures


def verify(
    header: str, body: str | bytes, secret: str, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> int:
    """Check a delivery as a receiver does: the raw body as received, the header, the secret and
    the receiver's clock (unix seconds). Returns the timestamp; raises `SignatureError`."""
    timestamp, signatures = parse_header(header)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("the timestamp is outside the tolerance (a replay?)")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("no signature matches the secret")
    return timestamp
