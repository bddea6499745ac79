"""Page cursors: an opaque URL-safe form of a position (a sort key) in one partition or index.

A cursor carries only the position; the partition always comes from the caller's group, so a
cursor can never lead into another tenant's data.
"""

from __future__ import annotations

import base64
import binascii

from loyalty_engine.domain.errors import InvalidRequest


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, prefix: str = "", separator: str = "", max_length: int = 400) -> str:
    """The position, or 422 `invalid_cursor` if it is not one this API handed out."""
    try:
        position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        position = ""
    valid = bool(position) and position.startswith(prefix) and len(position) <= max_length
    if not valid or (separator and separator not in position):
        raise InvalidRequest(
            "invalid cursor", code="invalid_cursor", details=[{"field": "cursor", "reason": "invalid_cursor"}]
        )
    return position
