"""Applying one partner file: the first pass that checks it whole (a rejected file applies
nothing), then its chunks, each written with the checkpoint of the one before."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from aws_lambda_powertools import Logger

from loyalty_engine.imports.apply_burnreward import burn_chunk
from loyalty_engine.imports.apply_earnreward import earn_chunk
from loyalty_engine.imports.apply_masterreward import master_chunk
from loyalty_engine.imports.apply_member import member_chunk
from loyalty_engine.imports.apply_rewardcode import code_chunk
from loyalty_engine.imports.apply_vip import ImportPoints, vip_chunk
from loyalty_engine.imports.chunks import CardCache, ChunkOutcome
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import (
    MAX_DATA_LINES,
    MAX_UPLOAD_BYTES,
    FileName,
    FileRejected,
    Record,
    Scope,
    detect_separator,
    first_line,
    read_records,
)
from loyalty_engine.imports.finish import finish, reject, release_reservations
from loyalty_engine.imports.header import check_header
from loyalty_engine.imports.jobs import ImportJob, Progress
from loyalty_engine.imports.store import generated_item, job_item, reserved_item, skipped_item
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.objects import StoredObject
from loyalty_engine.kernel.pacing import WRITE_UNIT_BYTES, WritePacer, write_units
from loyalty_engine.kernel.table import PARTITION_KEY
from loyalty_engine.rewards.models import MasterReward

logger = Logger(service="loyalty-engine", child=True)

MAX_FILE_BYTES = MAX_UPLOAD_BYTES  # a larger file is refused unread (the upload route's cap too)
SKIPPED_TTL_S = 400 * 86_400  # skipped-line records outlive the report they feed by nothing: keep ~13 months


def _records(
    svc: ImportServices, stored: StoredObject, separator: str, offset: int, line: int
) -> Iterator[Record]:
    return read_records(
        svc.objects.chunks(stored, offset), separator=separator, offset=offset, first_line=line
    )


def line_units(record: Record) -> int:
    """A masterreward line's catalog write units, from its size: the reward as stored is its
    values and their names (within a KB of the line), kept twice by an update (`prior_*`)."""
    return 2 * (len(record.raw.encode()) // WRITE_UNIT_BYTES + 1)


def _next_chunk(records: Iterator[Record], lines: int, units: int | None) -> list[Record]:
    """Up to `lines` records, fewer once their `line_units` reach `units` (None: no cap)."""
    chunk: list[Record] = []
    spent = 0
    for record in itertools.islice(records, lines):
        chunk.append(record)
        if units is not None:
            spent += line_units(record)
            if spent >= units:
                break
    return chunk


def _check_file(
    svc: ImportServices, group: str, job: ImportJob, file_name: FileName, stored: StoredObject
) -> ImportJob:
    """The first pass: size, program, header, encoding, line count. Raises FileRejected."""
    if stored.size > MAX_FILE_BYTES:
        raise FileRejected(
            "file_too_large",
            f"the file has {stored.size} bytes, more than {MAX_FILE_BYTES}: split it",
        )
    program = svc.programs.get_program(group, file_name.subsection)
    if program is None:
        raise FileRejected(
            "unknown_subsection", f"subsection {file_name.subsection!r} is not a program of {group!r}"
        )
    if file_name.scope == Scope.MEMBER and program.card_codes.generation != "manual":
        raise FileRejected(
            "card_codes_generated",
            f"program {program.program_id!r} generates its card codes: members are enrolled through the API",
        )
    digest = hashlib.sha256()

    def hashed(source: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in source:
            digest.update(chunk)
            yield chunk

    chunks = hashed(svc.objects.chunks(stored))
    first = next(chunks, b"")
    separator = detect_separator(first_line([first]))
    records = read_records(itertools.chain([first], chunks), separator=separator)
    header_record = next(records, None)
    if header_record is None:
        raise FileRejected("empty_file", "the file has no header line")
    header = check_header(file_name.scope, header_record.fields, header_record.line)
    count = 0
    for _ in records:
        count += 1
        if count > MAX_DATA_LINES:
            raise FileRejected(
                "too_many_lines", f"the file has more than {MAX_DATA_LINES} data lines: split it", None
            )
    return job.model_copy(
        update={
            "state": "running",
            "scope": file_name.scope,
            "subsection": file_name.subsection,
            "started_at": svc.clock(),
            "header": header,
            "separator": separator,
            "next_offset": header_record.end,
            "next_line": header_record.last_line + 1,
            "progress": Progress(lines_total=count),
            "content_sha256": digest.hexdigest(),  # the whole file was read to count its lines
        }
    )


def _duplicate(svc: ImportServices, group: str, job: ImportJob, holder: str, expected_chunk: int) -> None:
    """The same bytes under the same name as an earlier import: nothing applied, a report that
    names the import it repeats."""
    done = job.model_copy(
        update={
            "state": "duplicate",
            "duplicate_of": holder,
            "finished_at": svc.clock(),
            "progress": Progress(lines_total=job.progress.lines_total),
        }
    )
    logger.info("import file repeats an earlier one", extra={"key": job.key, "duplicate_of": holder})
    finish(svc, group, done, expected_chunk=expected_chunk)


def _catalog_pace(group: str, units_per_s: int) -> Callable[[list[dict[str, Any]]], None]:
    """Spends the write units of each request's catalog items (the group's one catalog partition)
    at no more than `units_per_s`; the file's other items (checkpoint, skipped lines) are elsewhere."""
    pacer, catalog = WritePacer(units_per_s), keys.rewards_pk(group)

    def pace(items: list[dict[str, Any]]) -> None:
        pacer.spend(write_units(item for item in items if item[PARTITION_KEY] == catalog))

    return pace


def apply_file(
    svc: ImportServices,
    group: str,
    job: ImportJob,
    file_name: FileName,
    stored: StoredObject,
    remaining_ms: Callable[[], float],
) -> bool:
    """Apply the file from its checkpoint; False when out of time (the checkpoint is saved)."""
    if job.state == "queued":
        try:
            checked = _check_file(svc, group, job, file_name, stored)
        except FileRejected as rejection:
            reject(
                svc,
                group,
                job.model_copy(update={"scope": file_name.scope, "subsection": file_name.subsection}),
                rejection,
            )
            return True
        assert checked.content_sha256 is not None
        holder = svc.jobs.claim_content(group, job.file_name, checked.content_sha256, job.import_id)
        if holder != job.import_id:
            _duplicate(svc, group, checked, holder, expected_chunk=job.chunk)
            return True
        svc.jobs.save_job(group, checked, expected_chunk=job.chunk)
        job = checked
    assert job.header is not None and job.separator is not None and job.scope is not None
    group_settings = svc.groups.get_group(group)
    null_erases = bool(group_settings and group_settings.settings.null_erases)
    records = _records(svc, stored, job.separator, job.next_offset, job.next_line)
    rewards: dict[str, MasterReward] = {}  # the catalog as read by this run's earn chunks
    # Members are never deleted nor moved to another program: once read, a card's program
    # holds for the whole run, and a card named again in a later chunk is not read again.
    cards = CardCache()
    points = ImportPoints(svc.programs, svc.members, svc.clock)
    apply_chunk = {
        Scope.MEMBER: lambda j, c: member_chunk(
            svc, group, j, c, points.program(group, job.subsection or "")
        ),
        Scope.VIP: lambda j, c: vip_chunk(svc, group, j, c, points),
        Scope.MASTERREWARD: lambda j, c: master_chunk(svc, group, j, c, null_erases),
        Scope.REWARDCODE: lambda j, c: code_chunk(svc, group, j, c),
        Scope.EARNREWARD: lambda j, c: earn_chunk(svc, group, j, c, rewards, cards),
        Scope.BURNREWARD: lambda j, c: burn_chunk(svc, group, j, c, cards),
    }[job.scope]
    # The checkpoint after chunk k rides in the first write request of chunk k+1 (chunk k's
    # writes are all done by then): no request of its own. A crash before it lands replays
    # chunk k, which is idempotent. `persisted` is the job as the table holds it.
    persisted, checkpoint = job, None
    pace = _catalog_pace(group, svc.catalog_wcu_s) if job.scope == Scope.MASTERREWARD else None
    recorded: set[str] = set()  # rewards whose reservation record this run has written
    lines_per_chunk, units_per_chunk = svc.lines_per_chunk(job.scope), svc.units_per_chunk(job.scope)
    while True:
        if remaining_ms() < svc.time_margin_ms:
            if checkpoint is not None:
                svc.jobs.save_job(group, checkpoint, expected_chunk=persisted.chunk)
            return False
        chunk = _next_chunk(records, lines_per_chunk, units_per_chunk)
        if not chunk:
            break
        if svc.before_chunk is not None:
            svc.before_chunk(job, job.chunk)
        outcome: ChunkOutcome = apply_chunk(job, chunk)
        expires = int(time.time()) + SKIPPED_TTL_S
        items = outcome.items + [skipped_item(group, job.import_id, s, expires) for s in outcome.skipped]
        items += [generated_item(group, job.import_id, g, expires) for g in outcome.generated]
        items += [
            reserved_item(group, job.import_id, r, expires) for r in sorted(outcome.reserved - recorded)
        ]
        recorded |= outcome.reserved
        if checkpoint is not None:
            items.insert(0, job_item(group, checkpoint))
        if items:
            svc.rewards.put_items(items, pace, svc.io_threads)
            persisted = checkpoint or persisted
        progress = job.progress
        checkpoint = job = job.model_copy(
            update={
                "chunk": job.chunk + 1,
                "next_offset": chunk[-1].end,
                "next_line": chunk[-1].last_line + 1,
                "progress": progress.model_copy(
                    update={
                        "lines_read": progress.lines_read + len(chunk),
                        "applied": progress.applied + outcome.applied,
                        "skipped": progress.skipped + len(outcome.skipped),
                        "unchanged": progress.unchanged + outcome.unchanged,
                    }
                ),
            }
        )
    done = job.model_copy(update={"state": "completed", "finished_at": svc.clock()})
    finish(svc, group, done, expected_chunk=persisted.chunk)
    release_reservations(svc, group, done)
    logger.info(
        "import applied",
        extra={"key": job.key, "applied": job.progress.applied, "skipped": job.progress.skipped},
    )
    return True
