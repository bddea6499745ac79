"""What an import writes next to the file: the JSON summary and the CSV of skipped lines.

(Apart from the job models so that the API, which only shows jobs, does not load csv.)
"""

from __future__ import annotations

import csv
import io

from loyalty_engine.imports.files import spreadsheet_safe
from loyalty_engine.imports.jobs import GeneratedAttribution, ImportJob, SkippedLine

SKIPPED_COLUMNS = ("line", "reason_code", "field", "message", "raw_line")
ATTRIBUTION_COLUMNS = ("line", "attribution_id", "reward_id", "card_code")


def skipped_csv_header() -> str:
    return ";".join(SKIPPED_COLUMNS) + "\r\n"


def skipped_csv_row(skipped: SkippedLine) -> str:
    """One report row; every text cell that a spreadsheet would evaluate is escaped."""
    return _row([str(skipped.line), skipped.code, skipped.field or "", skipped.message, skipped.raw])


def attributions_csv_header() -> str:
    return ";".join(ATTRIBUTION_COLUMNS) + "\r\n"


def attributions_csv_row(generated: GeneratedAttribution) -> str:
    """An earnreward line applied with a generated attribution id: the line, the id, the reward
    and the card, so that a partner can match the id to its line and burn it by file."""
    return _row([str(generated.line), generated.attribution_id, generated.reward_id, generated.card_code])


def _row(cells: list[str]) -> str:
    out = io.StringIO()
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
        "attributions_report": job.report.attributions_key if job.report else None,
    }
