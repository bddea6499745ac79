"""Typed runtime settings, read from the environment on first use (tests may clear the cache)."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    table_name: str = Field(min_length=3)
    program_cache_seconds: float = Field(default=30.0, ge=0)
    import_bucket: str = ""  # only the functions that read or write import files have it
    import_queue_url: str = ""
    job_queue_url: str = ""
    schedule_group: str = ""  # empty: program schedules are not managed (unit tests)
    scheduler_role_arn: str = ""
    job_target_arn: str = ""
    schedule_dlq_arn: str = ""
    export_bucket: str = ""  # CSV exports of pre-issued batches
    batch_queue_url: str = ""  # pre-issue batches run in the background
    sync_batch_limit: int = Field(default=1000, ge=0, description="Larger batches run in the background")


@cache
def settings() -> Settings:
    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        program_cache_seconds=float(os.environ.get("PROGRAM_CACHE_SECONDS", "30")),
        import_bucket=os.environ.get("IMPORT_BUCKET", ""),
        import_queue_url=os.environ.get("IMPORT_QUEUE_URL", ""),
        job_queue_url=os.environ.get("JOB_QUEUE_URL", ""),
        schedule_group=os.environ.get("SCHEDULE_GROUP", ""),
        scheduler_role_arn=os.environ.get("SCHEDULER_ROLE_ARN", ""),
        job_target_arn=os.environ.get("JOB_TARGET_ARN", ""),
        schedule_dlq_arn=os.environ.get("SCHEDULE_DLQ_ARN", ""),
        export_bucket=os.environ.get("EXPORT_BUCKET", ""),
        batch_queue_url=os.environ.get("BATCH_QUEUE_URL", ""),
        sync_batch_limit=int(os.environ.get("SYNC_BATCH_LIMIT", "1000")),
    )
