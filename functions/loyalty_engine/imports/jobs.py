"""Import jobs: one per uploaded object (key + version/ETag), with its state, counts and progress.

The job id is derived from the object's identity, so that every delivery of the same object
finds the same job: a completed job is not applied again, a running one resumes from its
checkpoint.
"""

import hashlib
from base64 import b32encode
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.timeutil import UtcDatetime

JobState = Literal["queued", "running", "completed", "rejected", "failed", "duplicate"]


class Scope(StrEnum):
    MEMBER = "member"
    VIP = "vip"
    MASTERREWARD = "masterreward"
    REWARDCODE = "rewardcode"
    EARNREWARD = "earnreward"
    BURNREWARD = "burnreward"

    @property
    def rank(self) -> int:
        """Files of one day are applied in SCOPE_ORDER: members first (a VIP or reward line may
        name a card enrolled the same day), then VIP tiers, then the reward scopes, a day's
        reward codes (`rewardcode`) before the grants that may hand them out."""
        return SCOPE_ORDER.index(self)


# The order of application of one day's files of a universe/subsection: data, not code, so that
# a new scope is placed by adding it here.
SCOPE_ORDER: tuple[Scope, ...] = (
    Scope.MEMBER,
    Scope.VIP,
    Scope.MASTERREWARD,
    Scope.REWARDCODE,
    Scope.EARNREWARD,
    Scope.BURNREWARD,
)


def job_id_for(key: str, version: str) -> str:
    digest = hashlib.sha256(f"{key}\n{version}".encode()).digest()
    return b32encode(digest).decode()[:26]


TEXT_KEPT = 4096  # characters of a message or raw line kept in a job or report (items stay small)


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_KEPT else text[: TEXT_KEPT - 1] + "…"


class Rejection(DeferredModel):
    code: str
    message: str
    line: int | None = None

    @field_validator("message")
    @classmethod
    def _short(cls, value: str) -> str:
        return _clip(value)


class ReportLocation(DeferredModel):
    bucket: str
    summary_key: str
    skipped_key: str
    attributions_key: str | None = None  # earnreward files: the attribution ids generated


class Progress(DeferredModel):
    lines_total: int | None = Field(default=None, description="Data lines in the file, once counted")
    lines_read: int = 0
    applied: int = 0
    skipped: int = 0
    unchanged: int = Field(
        default=0, description="Lines that asked for what was already so (member and vip files)"
    )


class ImportJob(DeferredModel):
    import_id: str
    file_name: str
    key: str
    version: str = Field(description="The object's version id, or its ETag in an unversioned bucket")
    size: int
    scope: Scope | None = None
    subsection: str | None = None
    state: JobState = "queued"
    received_at: UtcDatetime
    uploaded_at: UtcDatetime | None = Field(
        default=None, description="When the upload reached S3 (LastModified): its day is the import day"
    )
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    progress: Progress = Progress()
    rejection: Rejection | None = None
    report: ReportLocation | None = None
    # where to resume: the byte offset and line number just after the last applied chunk
    header: list[str] | None = None
    separator: str | None = None
    next_offset: int = 0
    next_line: int = 2
    chunk: int = 0
    failures: int = Field(default=0, description="Deliveries that failed in a way that would repeat")
    content_sha256: str | None = Field(default=None, description="SHA-256 of the file's bytes, once read")
    duplicate_of: str | None = Field(
        default=None, description="State `duplicate`: the import of the same name and bytes it repeats"
    )

    @property
    def done(self) -> bool:
        return self.state in ("completed", "rejected", "failed", "duplicate")

    @property
    def imported_at(self) -> datetime:
        """The instant whose GMT+1 day is the file's "import day" (seed 002: earn_date must be that
        day or later): the upload's, not the start's, which the quiet period, the queue and the
        group's earlier files can push past midnight; the start if the upload's time is unknown
        or later (a job clock behind S3's)."""
        assert self.started_at is not None
        if self.uploaded_at is None:
            return self.started_at
        return min(self.uploaded_at, self.started_at)


class ImportView(DeferredModel):
    """An import job as the API shows it."""

    import_id: str
    file_name: str
    key: str
    state: JobState
    scope: Scope | None
    subsection: str | None
    received_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    progress: Progress
    rejection: Rejection | None
    report: ReportLocation | None
    content_sha256: str | None = None
    duplicate_of: str | None = None

    @classmethod
    def of(cls, job: ImportJob) -> "ImportView":
        return cls.model_validate(job.model_dump(include=set(cls.model_fields)))


class SkippedLine(DeferredModel):
    line: int
    code: str
    field: str | None
    message: str
    raw: str = Field(description="The line as read (its first 4,096 characters)")

    @field_validator("message", "raw")
    @classmethod
    def _short(cls, value: str) -> str:
        return _clip(value)


class GeneratedAttribution(DeferredModel):
    """An earnreward line applied with an attribution id of ours (an auto-generated reward's):
    the partner needs it to burn the reward by file."""

    line: int
    attribution_id: str
    reward_id: str
    card_code: str
