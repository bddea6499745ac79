"""A chunk of a member file: enrol cards of a program whose card codes are imported ("manual"),
through the enrolment the API uses (`points.member_use_cases.enrol_imported`)."""

from __future__ import annotations

from loyalty_engine.imports.chunks import ChunkOutcome, line_source, skipped
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.rows import LineSkipped, row_of
from loyalty_engine.imports.rows_members import member_line
from loyalty_engine.kernel.errors import DomainError
from loyalty_engine.points.member_use_cases import enrol_imported
from loyalty_engine.points.members import EnrolRequest
from loyalty_engine.points.programs import Program


def member_chunk(
    svc: ImportServices, group: str, job: ImportJob, chunk: list[Record], program: Program
) -> ChunkOutcome:
    """Each line enrols its card in one transaction (the member and its enrolment record, which
    names the line): a replayed chunk finds its lines' members and counts them as it did."""
    outcome = ChunkOutcome()
    assert job.header is not None and job.started_at is not None
    for record in chunk:
        try:
            line = member_line(row_of(job.header, record.fields))
            request = EnrolRequest(
                card_code=line.card_code, customer_ref=line.customer_ref, subscribed_at=line.subscribed_at
            )
            result = enrol_imported(
                svc.members, group, program, request, source=line_source(job, record), now=job.started_at
            )
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
            continue
        except DomainError as refused:
            field = refused.details[0].get("field", "card_code") if refused.details else "card_code"
            outcome.skipped.append(skipped(record, LineSkipped(refused.code, field, refused.message)))
            continue
        if result == "applied":
            outcome.applied += 1
        else:
            outcome.unchanged += 1
    return outcome
