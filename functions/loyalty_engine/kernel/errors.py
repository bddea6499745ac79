"""Domain errors: each carries an HTTP status and a stable, documented reason code."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidRequest(DomainError):
    status = 422
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


def program_not_found(program_id: str) -> NotFound:
    return NotFound(f"program {program_id!r} not found", code="program_not_found")


class Conflict(DomainError):
    status = 409
    code = "conflict"


class IdempotencyKeyReused(Conflict):
    """The same idempotency key (or natural key) came back with another request body."""

    code = "idempotency_key_reused"


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class ConcurrentUpdate(Conflict):
    """Optimistic concurrency gave up after its retries; the client may retry the same request."""

    code = "concurrent_update"


class ServiceUnavailable(DomainError):
    """A dependency throttled or failed transiently; safe to retry with the same idempotency key."""

    status = 503
    code = "service_unavailable"
