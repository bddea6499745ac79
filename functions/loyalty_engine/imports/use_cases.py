"""Use cases of the import status routes: a group's imports (all, or a file name's), one import."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.imports.jobs import ImportJob, ImportView, JobState, Scope
from loyalty_engine.imports.store import ImportStore, JobPage
from loyalty_engine.kernel.cursors import decode_cursor, encode_cursor
from loyalty_engine.kernel.errors import InvalidRequest, NotFound

# With a filter, a page is filled from at most this many reads of up to FILTERED_READ jobs each:
# a page may then hold fewer than `limit` imports (even none) and a `next_cursor` to go on from.
MAX_READS = 5
# No file has a longer name: S3 keys (incoming/<group>/<name>) hold 1,024 bytes at most; a longer
# filter would make a gsi1 key DynamoDB refuses (over 2,048 bytes with 4-byte characters).
FILE_NAME_MAX_BYTES = 1024
FILTERED_READ = 50
# A cursor: the list it belongs to (A: the group's, F: a file name's) and a position in it.
_POSITIONS = {
    "A": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[A-Z2-7]{26}"),
    "F": re.compile(r"\d{4}-\d\d-\d\dT[0-9:.+-]{8,32}#[A-Z2-7]{26}"),
}


class ImportStatusContext(Protocol):
    @property
    def imports(self) -> ImportStore: ...


def get_import(ctx: ImportStatusContext, caller: Caller, import_id: str) -> ImportView:
    job = ctx.imports.job(caller.group_id, import_id)
    if job is None:
        raise NotFound(f"import {import_id!r} not found", code="import_not_found")
    return ImportView.of(job)


def list_imports(
    ctx: ImportStatusContext,
    caller: Caller,
    limit: int,
    cursor: str | None = None,
    *,
    file_name: str | None = None,
    state: JobState | None = None,
    scope: Scope | None = None,
) -> tuple[list[ImportView], str | None]:
    """A page of the key's group's imports, newest received first: all of them, or those of one
    file name; kept only if in `state` and of `scope` when given. The cursor of the next page, or
    None after the last."""
    group = caller.group_id
    kind = "F" if file_name is not None else "A"
    read: Callable[[int, str | None], JobPage]
    if file_name is not None:
        if len(file_name.encode()) > FILE_NAME_MAX_BYTES:
            raise InvalidRequest(
                f"a file name holds at most {FILE_NAME_MAX_BYTES} bytes in UTF-8 (S3 keys' limit)",
                details=[{"in": "query", "field": "file", "reason": "too_long"}],
            )
        name = file_name
        read = lambda size, after: ctx.imports.file_page(group, name, size, after)  # noqa: E731
    else:
        read = lambda size, after: ctx.imports.listed_page(group, size, after)  # noqa: E731

    def keep(job: ImportJob) -> bool:
        return (state is None or job.state == state) and (scope is None or job.scope == scope)

    filtered = state is not None or scope is not None
    size = max(limit, FILTERED_READ) if filtered else limit
    position = _position(cursor, kind) if cursor else None
    jobs: list[ImportJob] = []
    for _ in range(MAX_READS):
        page, last = read(size, position)
        for index, (place, job) in enumerate(page):
            position = place
            if job is not None and keep(job):
                jobs.append(job)
            if len(jobs) == limit:
                more = index < len(page) - 1 or last is not None
                return [ImportView.of(j) for j in jobs], encode_cursor(f"{kind}|{place}") if more else None
        if last is None:
            return [ImportView.of(j) for j in jobs], None
        position = last
    return [ImportView.of(j) for j in jobs], encode_cursor(f"{kind}|{position}")


def _position(cursor: str, kind: str) -> str:
    value = decode_cursor(cursor, prefix=f"{kind}|", max_length=80)[2:]
    if not _POSITIONS[kind].fullmatch(value):
        raise InvalidRequest(
            "invalid cursor", code="invalid_cursor", details=[{"field": "cursor", "reason": "invalid_cursor"}]
        )
    return value
