"""The HTTP request and response the local gateway works with, and its own answers.

The gateway's own answers are JSON `{"code", "message"}`, with the request's
`x-amzn-RequestId`: 404 route_not_found, 401 unauthorized, 403 forbidden, 413
payload_too_large, 400 bad_request (malformed HTTP) and 502 internal_error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class HttpRequest:
    method: str
    target: str  # as on the request line: path and query
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class GatewayError(Exception):
    """An answer of the gateway itself."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def unauthorized() -> GatewayError:
    return GatewayError(401, "unauthorized", "Missing or invalid API key")


def forbidden() -> GatewayError:
    return GatewayError(403, "forbidden", "The API key may not call this API")


def internal_error() -> GatewayError:
    return GatewayError(502, "internal_error", "Internal server error")


def payload_too_large(limit_bytes: int) -> GatewayError:
    return GatewayError(413, "payload_too_large", f"the request body is larger than {limit_bytes} bytes")


def error_response(error: GatewayError, request_id: str) -> HttpResponse:
    """The gateway's answer `error`, as JSON `{"code", "message"}`."""
    body = json.dumps({"code": error.code, "message": error.message}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    headers.extend(error.headers.items())
    return HttpResponse(error.status, headers, body)
