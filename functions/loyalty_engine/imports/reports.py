"""What an import writes next to the file: the JSON summary and the CSV of skipped lines.

(Apart from the job models so that the API, which only shows jobs, does not load csv.)
"""

from __future__ import annotations

import csv
import io

from loyalty_engine.imports.files import spreadsheet_safe
from loyalty_engine.imports.jobs import ImportJob, SkippedLine

SKIPPED_COLUMNS = ("line", "reason_code", "field", "message", "raw_line")


def skipped_csv_header() -> str:
    return ";".join(SKIPPED_COLUMNS) + "\r\n"


def skipped_csv_row(skipped: SkippedLine) -> str:
    """One report row; every text cell that a spreadsheet would evaluate is escaped."""
    out = io.StringIO()
    cells = [str(skipped.line), skipped.code, skipped.field or "", skipped.message, skipped.raw]
    csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerow(
        [spreadsheet_safe(cell) for cell in cells]
    )
    return out.getvalue()


def summary(job: ImportJob) -> dict[str, object]:
    """The JSON report written next to the file."""
    return {
        "import_id": job.import_id,
        "file": job.file_name,
        "key": job.key,
        "state": job.state,
        "scope": job.scope,
        "subsection": job.subsection,
        "received_at": job.received_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "lines_read": job.progress.lines_read,
        "applied": job.progress.applied,
        "skipped": job.progress.skipped,
        "unchanged": job.progress.unchanged,
        "rejection": job.rejection.model_dump() if job.rejection else None,
        "content_sha256": job.content_sha256,
        "duplicate_of": job.duplicate_of,
        "skipped_lines_report": job.report.skipped_key if job.report else None,
    }
