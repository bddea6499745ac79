"""The audit log's hook in both API functions: after the resolver has answered a request,
record it if it is a write by an admin or partner key (`audit.use_cases.record`).

It wraps the whole resolver (`rest.rest_app`), not one of its middlewares: powertools runs the
request validation before any middleware, so a middleware would never see a 422, and the
scope check's 403 is itself a middleware. The record's time is API Gateway's
`requestTimeEpoch` and its id the gateway's `requestId`, both the same when a request is
delivered again: recording it again rewrites the same items. A record that cannot be written
(after botocore's and the batch's retries) is logged in full, as `audit_record_failed`, and the
answer goes out unchanged: the change it describes is done already.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from loyalty_engine.access.caller import caller_from_context
from loyalty_engine.access.store import GroupStore
from loyalty_engine.audit.records import WRITE_METHODS
from loyalty_engine.audit.store import AuditStore
from loyalty_engine.audit.use_cases import AnsweredRequest, Retention, record
from loyalty_engine.handlers import request_guard
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.errors import Unauthorized
from loyalty_engine.kernel.settings import Settings, load


@cache
def audit_services() -> tuple[AuditStore, Retention]:
    table = load(Settings).table_name
    dynamodb = client()
    return AuditStore(dynamodb, table), Retention(GroupStore(dynamodb, table))


def _json(text: Any) -> Any:
    """The body as the resolver read it (the request guard's reader: bounded depth and size), or
    None when it is not JSON it would read."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return request_guard.loads(text)
    except Exception:  # a body the guard refuses is summarised by its field names: none
        return None


def answered(
    event: dict[str, Any], response: dict[str, Any], refused_by_guard: bool = False
) -> AnsweredRequest | None:
    """The request and its answer as the audit log sees them; None for a request without a
    caller (401) or that is not a write."""
    method = str(event.get("httpMethod") or "").upper()
    if method not in WRITE_METHODS:
        return None
    context = event.get("requestContext") or {}
    try:
        caller = caller_from_context(context.get("authorizer"))
    except Unauthorized:
        return None
    epoch_ms = context.get("requestTimeEpoch")
    at = (
        datetime.fromtimestamp(epoch_ms / 1000, UTC)
        if isinstance(epoch_ms, int | float)
        else datetime.now(UTC)
    )
    return AnsweredRequest(
        caller=caller,
        method=method,
        route=str(event.get("resource") or event.get("path") or ""),
        ids={str(k): str(v) for k, v in (event.get("pathParameters") or {}).items()},
        body=_json(event.get("body"))
        if refused_by_guard is False and not event.get("isBase64Encoded")
        else None,
        status=int(response.get("statusCode") or 500),
        answer=_json(response.get("body")),
        request_id=str(context.get("requestId") or "") or f"local-{at.timestamp()}",
        at=at,
    )


def record_answer(
    event: dict[str, Any], response: dict[str, Any], logger: Logger, *, refused_by_guard: bool = False
) -> None:
    """Record the answered request if it is audited; never changes nor delays the answer
    beyond the write itself, never raises."""
    request = None
    try:
        request = answered(event, response, refused_by_guard)
        if request is None:
            return
        store, retention = audit_services()
        record(store, retention, request)
    except Exception:  # the answer must go out; the record goes to the log instead
        logger.exception(
            "audit_record_failed",
            extra={"audit": None if request is None else _loggable(request)},
        )


def _loggable(request: AnsweredRequest) -> dict[str, Any]:
    return {
        "key_id": request.caller.key_id,
        "group": request.caller.group_id,
        "method": request.method,
        "route": request.route,
        "ids": request.ids,
        "status": request.status,
        "request_id": request.request_id,
        "at": request.at.isoformat(),
    }
