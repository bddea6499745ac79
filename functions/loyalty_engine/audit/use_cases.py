"""Record an answered write in the audit log; read the log a page at a time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loyalty_engine.access.models import Caller
from loyalty_engine.access.store import GroupStore
from loyalty_engine.audit.records import (
    AuditPage,
    AuditRecord,
    audit_object,
    expires_at,
    is_audited,
    summary_of,
)
from loyalty_engine.audit.store import AuditStore
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.timeutil import END_OF_TIME

# How long a container keeps a group's retention setting (a change applies to later records).
RETENTION_CACHE_SECONDS = 60.0
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AnsweredRequest:
    """What the audit log needs of a request and its answer."""

    caller: Caller
    method: str
    route: str
    ids: dict[str, str]
    body: Any
    status: int
    answer: Any
    request_id: str
    at: datetime


class Retention:
    """Each group's retention (days), read from its settings and kept for a minute per container."""

    def __init__(self, groups: GroupStore, clock: Callable[[], float] = time.monotonic):
        self._groups = groups
        self._clock = clock
        self._known: dict[str, tuple[float, int | None]] = {}

    def days(self, group: str) -> int | None:
        now = self._clock()
        known = self._known.get(group)
        if known is None or now - known[0] > RETENTION_CACHE_SECONDS:
            stored = self._groups.get_group(group)
            known = (now, stored.settings.audit_retention_days if stored else None)
            self._known[group] = known
        return known[1]


def record(store: AuditStore, retention: Retention, request: AnsweredRequest) -> AuditRecord | None:
    """Record the request if it is an audited write (a write by an admin or partner key,
    whatever its answer); None when it is not one."""
    if not is_audited(request.method, request.caller.scopes):
        return None
    entry = AuditRecord(
        at=request.at,
        key_id=request.caller.key_id,
        method=request.method.upper(),
        route=request.route,
        object=audit_object(request.route, request.ids, request.answer),
        ids=request.ids,
        status=request.status,
        summary=summary_of(request.body, request.status, request.answer),
        request_id=request.request_id,
    )
    group = request.caller.group_id
    store.put(group, entry, expires_at(request.at, retention.days(group)))
    return entry


def audit_page(
    store: AuditStore,
    caller: Caller,
    *,
    start: datetime | None,
    end: datetime | None,
    key_id: str | None,
    audit_object: str | None,
    limit: int,
    cursor: str | None,
) -> AuditPage:
    """The caller's group's records, newest first, made between `start` and `end` (both
    included; either may be left open)."""
    end = end or END_OF_TIME
    start = start or BEGINNING
    if start > end:
        raise InvalidRequest("`from` is after `to`", details=[{"field": "from", "reason": "after_to"}])
    items, next_cursor = store.page(
        caller.group_id,
        start=start,
        end=end,
        key_id=key_id,
        audit_object=audit_object,
        limit=limit,
        cursor=cursor,
    )
    return AuditPage(items=items, next_cursor=next_cursor)
