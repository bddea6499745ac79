"""Partner uploads through the API: a presigned PUT of one well-named file into the key's group's
`incoming/` folder, and short-lived links to an import's reports.

The name is checked before anything is signed (universe = the key's group, a known scope, a
date, a program of the group as subsection), so that a partner learns of a misnamed file at
once instead of from a rejection report. The URL writes exactly `incoming/<group>/<name>`,
exactly the declared number of bytes (Content-Length is signed), until it expires.
"""

from datetime import datetime, timedelta
from typing import Protocol

from pydantic import ConfigDict, Field

from loyalty_engine.access.models import Caller
from loyalty_engine.imports.files import MAX_UPLOAD_BYTES, FileRejected, incoming_key, parse_file_name
from loyalty_engine.imports.store import ImportStore
from loyalty_engine.kernel.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.objects import ObjectStore
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.points.program_store import ProgramStore


class UploadRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(
        min_length=1,
        max_length=255,
        description="`<universe>_<scope>_<subsection>_<YYYYMMDD>.csv`, universe = the key's loyalty group",
    )
    size: int = Field(
        strict=True,
        ge=1,
        le=MAX_UPLOAD_BYTES,
        description="The file's size in bytes: the URL accepts a body of exactly this length",
    )


class UploadTicket(DeferredModel):
    method: str = Field(default="PUT", description="Send the file's bytes with this method to `url`")
    url: str = Field(description="Presigned: writes exactly `key`, exactly `size` bytes, until `expires_at`")
    key: str = Field(description="Where the file lands in the import bucket: incoming/<group>/<name>")
    headers: dict[str, str] = Field(description="Headers the upload must carry as they are")
    expires_at: UtcDatetime


class ReportLinks(DeferredModel):
    import_id: str
    state: str
    summary_url: str = Field(description="Presigned GET of the JSON summary, until `expires_at`")
    skipped_url: str = Field(description="Presigned GET of the skipped lines' CSV, until `expires_at`")
    attributions_url: str | None = Field(
        default=None,
        description="An applied earnreward file's: presigned GET of the CSV of the attribution ids "
        "generated for its lines (auto-generated rewards); null for other files",
    )
    expires_at: UtcDatetime


class UploadContext(Protocol):
    @property
    def imports(self) -> ImportStore: ...

    @property
    def programs(self) -> ProgramStore: ...

    def import_objects(self) -> ObjectStore | None: ...

    presigned_url_seconds: int

    def clock(self) -> datetime: ...


def _objects(ctx: UploadContext) -> ObjectStore:
    objects = ctx.import_objects()
    if objects is None:
        raise ServiceUnavailable("this stage has no import bucket", code="imports_unavailable")
    return objects


def request_upload(ctx: UploadContext, caller: Caller, request: UploadRequest) -> UploadTicket:
    group = caller.group_id
    try:
        name = parse_file_name(request.file_name, group)
    except FileRejected as rejection:
        raise InvalidRequest(rejection.message, code=rejection.code) from None
    if ctx.programs.get_program(group, name.subsection) is None:
        raise InvalidRequest(
            f"subsection {name.subsection!r} is not a program of {group!r}", code="unknown_subsection"
        )
    key = incoming_key(group, request.file_name)
    url = _objects(ctx).presigned_put(key, request.size, ctx.presigned_url_seconds)
    return UploadTicket(
        url=url,
        key=key,
        headers={"Content-Length": str(request.size)},
        expires_at=ctx.clock() + timedelta(seconds=ctx.presigned_url_seconds),
    )


def report_links(ctx: UploadContext, caller: Caller, import_id: str) -> ReportLinks:
    job = ctx.imports.job(caller.group_id, import_id)
    if job is None:
        raise NotFound(f"import {import_id!r} not found", code="import_not_found")
    if job.report is None:
        raise Conflict(
            f"import {import_id!r} is {job.state}: its report comes when it ends", code="report_not_ready"
        )
    objects = _objects(ctx)
    seconds = ctx.presigned_url_seconds
    return ReportLinks(
        import_id=job.import_id,
        state=job.state,
        summary_url=objects.presigned_get(job.report.summary_key, seconds),
        skipped_url=objects.presigned_get(job.report.skipped_key, seconds),
        attributions_url=(
            objects.presigned_get(job.report.attributions_key, seconds)
            if job.report.attributions_key
            else None
        ),
        expires_at=ctx.clock() + timedelta(seconds=seconds),
    )
