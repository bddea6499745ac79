"""The end of an import: its reports (summary and skipped lines) written before its final state,
and the release of the stock markers it held."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable

from aws_lambda_powertools import Logger

from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import FileRejected, Scope, report_keys
from loyalty_engine.imports.jobs import ImportJob, Rejection, ReportLocation
from loyalty_engine.imports.reports import (
    attributions_csv_header,
    attributions_csv_row,
    skipped_csv_header,
    skipped_csv_row,
    summary,
)

logger = Logger(service="loyalty-engine", child=True)


def reject(svc: ImportServices, group: str, job: ImportJob, rejection: FileRejected) -> None:
    now = svc.clock()
    rejected = job.model_copy(
        update={
            "state": "rejected",
            "started_at": job.started_at or now,
            "finished_at": now,
            "rejection": Rejection(code=rejection.code, message=rejection.message, line=rejection.line),
        }
    )
    logger.warning("import file rejected", extra={"key": job.key, "code": rejection.code})
    finish(svc, group, rejected, expected_chunk=job.chunk)


def finish(svc: ImportServices, group: str, job: ImportJob, expected_chunk: int) -> None:
    """Reports first, then the job's final state: a crash in between writes the reports again."""
    summary_key, skipped_key = report_keys(
        group, job.file_name.replace("/", "_"), job.received_at, job.import_id
    )
    # an earnreward file that was applied lists the attribution ids of ours it handed out
    attributions_key = None
    if job.scope == Scope.EARNREWARD and job.state in ("completed", "failed"):
        attributions_key = skipped_key.removesuffix(".skipped.csv") + ".attributions.csv"
    job = job.model_copy(
        update={
            "report": ReportLocation(
                bucket=svc.objects.bucket,
                summary_key=summary_key,
                skipped_key=skipped_key,
                attributions_key=attributions_key,
            )
        }
    )
    skipped = svc.jobs.skipped_lines(group, job.import_id)
    _put_csv(svc, skipped_key, skipped_csv_header(), map(skipped_csv_row, skipped))
    if attributions_key is not None:
        generated = svc.jobs.generated_attributions(group, job.import_id)
        _put_csv(svc, attributions_key, attributions_csv_header(), map(attributions_csv_row, generated))
    svc.objects.put_json(summary_key, summary(job))
    svc.jobs.save_job(group, job, expected_chunk=expected_chunk)
    if svc.on_finished is not None:
        svc.on_finished(job)


def release_reservations(svc: ImportServices, group: str, job: ImportJob) -> None:
    """Forget the job's stock markers, once it is saved as completed (a replay needs them before)."""
    if job.scope != Scope.EARNREWARD:
        return  # only earn lines reserve stock
    for external_id in svc.jobs.reserved_rewards(group, job.import_id):
        svc.rewards.release_job(group, external_id, job.import_id)


def _put_csv(svc: ImportServices, key: str, header: str, rows: Iterable[str]) -> None:
    """A report of any length, spooled to disk past 8 MiB, then stored in one streamed PUT."""
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        spool.write(header.encode())
        for row in rows:
            spool.write(row.encode())
        spool.seek(0)
        svc.objects.put_stream(key, spool, "text/csv; charset=utf-8")  # type: ignore[arg-type]
