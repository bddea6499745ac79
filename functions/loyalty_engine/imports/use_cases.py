"""Use cases of the import status routes: a file's imports, one import."""

from __future__ import annotations

from typing import Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.imports.jobs import ImportView
from loyalty_engine.imports.store import ImportStore
from loyalty_engine.kernel.errors import NotFound


class ImportStatusContext(Protocol):
    @property
    def imports(self) -> ImportStore: ...


def get_import(ctx: ImportStatusContext, caller: Caller, import_id: str) -> ImportView:
    job = ctx.imports.job(caller.group_id, import_id)
    if job is None:
        raise NotFound(f"import {import_id!r} not found", code="import_not_found")
    return ImportView.of(job)


def imports_of_file(ctx: ImportStatusContext, caller: Caller, file_name: str, limit: int) -> list[ImportView]:
    return [ImportView.of(job) for job in ctx.imports.jobs_for_file(caller.group_id, file_name, limit)]
