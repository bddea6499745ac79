"""Applying partner reward files: ordering, checking, chunked application with checkpoints, reports.

Flow (see README, "Imports"):
- Every S3 notification, and every continuation message, asks to *drain* one loyalty
  group: the group's files still under `incoming/` are
  applied one at a time, in order of date, then scope, whatever order they arrived in. A
  lock item keeps a single drain per group.
- A file is first read whole to check its header and count its lines (a rejected file
  applies nothing), then applied in chunks. After each chunk the job's checkpoint (byte
  offset, line, counts) is saved; a redelivered message resumes from there. Every write of
  a chunk is idempotent, so a chunk interrupted half-way is replayed to the same state.
- A handled file is moved to `processed/`; its report is written under `reports/`.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger

from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import (
    INCOMING,
    MAX_DATA_LINES,
    FileName,
    FileRejected,
    Record,
    Scope,
    detect_separator,
    file_day_start,
    first_line,
    incoming_key,
    parse_file_name,
    processed_key,
    read_records,
    report_keys,
    split_incoming_key,
)
from loyalty_engine.imports.jobs import (
    ImportJob,
    Progress,
    Rejection,
    ReportLocation,
    SkippedLine,
    job_id_for,
)
from loyalty_engine.imports.reports import skipped_csv_header, skipped_csv_row, summary
from loyalty_engine.imports.rows import (
    EarnLine,
    LineSkipped,
    burn_line,
    check_header,
    earn_line,
    master_external_id,
    master_spec,
    row_of,
)
from loyalty_engine.imports.store import job_item, reserved_item, skipped_item
from loyalty_engine.kernel.dynamo import error_code
from loyalty_engine.kernel.objects import StoredObject
from loyalty_engine.rewards.models import (
    Attribution,
    Burn,
    MasterReward,
    RuleBroken,
    check_burn,
    generated_attribution_id,
    generated_codes,
    stock_codes,
)
from loyalty_engine.rewards.store import BurnRefused, attribution_item, reward_item

logger = Logger(service="loyalty-engine", child=True)

SKIPPED_TTL_S = 400 * 86_400  # skipped-line records outlive the report they feed by nothing: keep ~13 months
TIME_MARGIN_MS = 60_000  # stop starting chunks with less than this left; a continuation resumes
LOCK_LEASE_S = 16 * 60  # longer than a Lambda can run: a crashed holder's lock frees itself
CARD_CACHE_MAX = 50_000  # cards known to exist (and their program) per run: ~5 MB at most


@dataclass
class _ChunkOutcome:
    applied: int = 0
    skipped: list[SkippedLine] = field(default_factory=list)
    reserved: set[str] = field(default_factory=set)
    items: list[dict[str, Any]] = field(default_factory=list)  # to put once the chunk is decided


def _skip(record: Record, problem: LineSkipped | RuleBroken) -> SkippedLine:
    return SkippedLine(
        line=record.line, code=problem.code, field=problem.field, message=problem.message, raw=record.raw
    )


# --- messages ----------------------------------------------------------------------------


def handle_message(svc: ImportServices, body: dict[str, Any], remaining_ms: Callable[[], float]) -> None:
    """One queue message: an S3 notification, S3's test event, or a drain continuation."""
    if body.get("Event") == "s3:TestEvent":
        return
    if "drain" in body:
        _drain(svc, str(body["drain"]["group"]), remaining_ms)
        return
    records = body.get("Records")
    if not isinstance(records, list):
        logger.error("unrecognised import message; ignored", extra={"body_keys": sorted(body)})
        return
    for record in records:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        key = unquote_plus(record["s3"]["object"]["key"])
        _object_created(svc, key, remaining_ms)


def _object_created(svc: ImportServices, key: str, remaining_ms: Callable[[], float]) -> None:
    located = split_incoming_key(key)
    if located is None:
        parts = key[len(INCOMING) :].split("/", 1) if key.startswith(INCOMING) else []
        if len(parts) == 2 and parts[0]:
            located = parts[0], parts[1]  # a nested name: rejected below as an invalid file name
        else:
            logger.error(
                "object outside incoming/<group>/ ignored: no group to report to", extra={"key": key}
            )
            return
    group, name = located
    stored = svc.objects.head(key)
    if stored is None:
        logger.info("object gone (handled by an earlier delivery)", extra={"key": key})
        return
    try:
        if svc.groups.get_group(group) is None:
            raise FileRejected("unknown_group", f"there is no loyalty group {group!r}")
        parse_file_name(name, group)  # a well-named file is applied in its turn among the group's
    except FileRejected as rejection:
        job = _job(svc, group, name, stored)
        if not job.done:
            _reject(svc, group, job, rejection)
        svc.objects.move(stored, processed_key(group, name.replace("/", "_"), job.import_id))
        return
    _drain(svc, group, remaining_ms)


# --- draining a group --------------------------------------------------------------------
# One drain per group at a time (not per subsection): the catalog, stock and attribution ids
# are the group's, shared by its subsections, and the importer writes them in batches.


def _pending(svc: ImportServices, group: str) -> list[FileName]:
    """The group's well-named files still to handle, in the order they must be applied."""
    files = []
    for key in svc.objects.keys_under(incoming_key(group, "")):
        located = split_incoming_key(key)
        if located is None:
            continue
        try:
            files.append(parse_file_name(located[1], group))
        except FileRejected:
            continue  # its own notification rejects it
    return sorted(files, key=lambda f: f.order)


def _drain(svc: ImportServices, group: str, remaining_ms: Callable[[], float]) -> None:
    owner = f"{time.time_ns()}-{id(svc)}"
    while True:
        if not svc.jobs.acquire_lock(group, owner, int(time.time()), LOCK_LEASE_S):
            # Another run drains this group; it lists the files again after releasing the
            # lock, and this message's file was in the bucket before this message existed.
            logger.info("group being drained elsewhere", extra={"group": group})
            return
        try:
            finished = _drain_locked(svc, group, remaining_ms)
        finally:
            svc.jobs.release_lock(group, owner)
        if not finished:
            if svc.queue is None:
                raise RuntimeError("out of time and no queue to continue on")
            svc.queue.send({"drain": {"group": group}})
            return
        if not _pending(svc, group):
            return


def _drain_locked(svc: ImportServices, group: str, remaining_ms: Callable[[], float]) -> bool:
    while pending := _pending(svc, group):
        file_name = pending[0]
        stored = svc.objects.oldest_upload(incoming_key(group, file_name.name))
        if stored is None:
            continue  # moved meanwhile (by an earlier run); list again
        job = _job(svc, group, file_name.name, stored)
        if job.done:
            _release_reservations(svc, group, job)  # again: the run that completed it may have died
        else:
            try:
                if not _apply(svc, group, job, file_name, stored, remaining_ms):
                    return False
            except Exception as error:
                if not _poisoned(svc, group, job, error):
                    raise
        svc.objects.move(stored, processed_key(group, file_name.name, job.import_id))
    return True


MAX_FAILURES = 3
_DETERMINISTIC = (ValueError, TypeError, KeyError, AssertionError, UnicodeError)


def _poisoned(svc: ImportServices, group: str, job: ImportJob, error: Exception) -> bool:
    """Count a failure that would happen again on every delivery (a bug, an item DynamoDB
    refuses); at the third, end the job as `failed` with a report, so that the group's later
    files are not blocked behind it. Transient failures are not counted: SQS retries them."""
    from botocore.exceptions import ClientError

    code = error_code(error) if isinstance(error, ClientError) else ""
    if not (isinstance(error, _DETERMINISTIC) or code == "ValidationException"):
        return False
    current = svc.jobs.job(group, job.import_id) or job
    failures = current.failures + 1
    logger.exception("import failed", extra={"key": job.key, "failures": failures})
    if failures < MAX_FAILURES:
        svc.jobs.save_job(
            group, current.model_copy(update={"failures": failures}), expected_chunk=current.chunk
        )
        return False
    now = svc.clock()
    failed = current.model_copy(
        update={
            "state": "failed",
            "failures": failures,
            "finished_at": now,
            "rejection": Rejection(
                code="internal_error",
                message=f"the import stopped after {current.progress.lines_read} lines "
                f"({type(error).__name__} {code}); the lines before were applied: contact the operator",
            ),
        }
    )
    _finish(svc, group, failed, expected_chunk=current.chunk)
    _release_reservations(svc, group, failed)
    return True


def _job(svc: ImportServices, group: str, name: str, stored: StoredObject) -> ImportJob:
    job_id = job_id_for(stored.key, stored.version)
    existing = svc.jobs.job(group, job_id)
    if existing is not None:
        return existing
    job = ImportJob(
        import_id=job_id,
        file_name=name,
        key=stored.key,
        version=stored.version,
        size=stored.size,
        received_at=svc.clock(),
    )
    return svc.jobs.create_job(group, job)


def _reject(svc: ImportServices, group: str, job: ImportJob, rejection: FileRejected) -> None:
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
    _finish(svc, group, rejected, expected_chunk=job.chunk)


def _finish(svc: ImportServices, group: str, job: ImportJob, expected_chunk: int) -> None:
    """Reports first, then the job's final state: a crash in between writes the reports again."""
    summary_key, skipped_key = report_keys(group, job.file_name.replace("/", "_"))
    job = job.model_copy(
        update={
            "report": ReportLocation(
                bucket=svc.objects.bucket, summary_key=summary_key, skipped_key=skipped_key
            )
        }
    )
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        spool.write(skipped_csv_header().encode())
        for skipped in svc.jobs.skipped_lines(group, job.import_id):
            spool.write(skipped_csv_row(skipped).encode())
        spool.seek(0)
        svc.objects.put_stream(skipped_key, spool, "text/csv; charset=utf-8")  # type: ignore[arg-type]
    svc.objects.put_json(summary_key, summary(job))
    svc.jobs.save_job(group, job, expected_chunk=expected_chunk)
    if svc.on_finished is not None:
        svc.on_finished(job)


# --- one file ----------------------------------------------------------------------------


def _records(
    svc: ImportServices, stored: StoredObject, separator: str, offset: int, line: int
) -> Iterator[Record]:
    return read_records(
        svc.objects.chunks(stored, offset), separator=separator, offset=offset, first_line=line
    )


def _check_file(
    svc: ImportServices, group: str, job: ImportJob, file_name: FileName, stored: StoredObject
) -> ImportJob:
    """The first pass: program, header, encoding, line count. Raises FileRejected."""
    if svc.programs.get_program(group, file_name.subsection) is None:
        raise FileRejected(
            "unknown_subsection", f"subsection {file_name.subsection!r} is not a program of {group!r}"
        )
    chunks = svc.objects.chunks(stored)
    first = next(chunks, b"")
    separator = detect_separator(first_line([first]))
    records = read_records(itertools.chain([first], chunks), separator=separator)
    header_record = next(records, None)
    if header_record is None:
        raise FileRejected("empty_file", "the file has no header line")
    header = check_header(file_name.scope, header_record.fields)
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
        }
    )


def _apply(
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
            _reject(
                svc,
                group,
                job.model_copy(update={"scope": file_name.scope, "subsection": file_name.subsection}),
                rejection,
            )
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
    cards = _CardCache()
    apply_chunk = {
        Scope.MASTERREWARD: lambda j, c: _master_chunk(svc, group, j, c, null_erases),
        Scope.EARNREWARD: lambda j, c: _earn_chunk(svc, group, j, c, rewards, cards),
        Scope.BURNREWARD: lambda j, c: _burn_chunk(svc, group, j, c, cards),
    }[job.scope]
    # The checkpoint after chunk k rides in the first write request of chunk k+1 (chunk k's
    # writes are all done by then): no request of its own. A crash before it lands replays
    # chunk k, which is idempotent. `persisted` is the job as the table holds it.
    persisted, checkpoint = job, None
    recorded: set[str] = set()  # rewards whose reservation record this run has written
    while True:
        if remaining_ms() < svc.time_margin_ms:
            if checkpoint is not None:
                svc.jobs.save_job(group, checkpoint, expected_chunk=persisted.chunk)
            return False
        chunk = list(itertools.islice(records, svc.chunk_lines))
        if not chunk:
            break
        if svc.before_chunk is not None:
            svc.before_chunk(job, job.chunk)
        outcome: _ChunkOutcome = apply_chunk(job, chunk)
        expires = int(time.time()) + SKIPPED_TTL_S
        items = outcome.items + [skipped_item(group, job.import_id, s, expires) for s in outcome.skipped]
        items += [
            reserved_item(group, job.import_id, r, expires) for r in sorted(outcome.reserved - recorded)
        ]
        recorded |= outcome.reserved
        if checkpoint is not None:
            items.insert(0, job_item(group, checkpoint))
        if items:
            svc.rewards.put_items(items)
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
                    }
                ),
            }
        )
    done = job.model_copy(update={"state": "completed", "finished_at": svc.clock()})
    _finish(svc, group, done, expected_chunk=persisted.chunk)
    _release_reservations(svc, group, done)
    logger.info(
        "import applied",
        extra={"key": job.key, "applied": job.progress.applied, "skipped": job.progress.skipped},
    )
    return True


def _release_reservations(svc: ImportServices, group: str, job: ImportJob) -> None:
    """Forget the job's stock markers, once it is saved as completed (a replay needs them before)."""
    if job.scope != Scope.EARNREWARD:
        return  # only earn lines reserve stock
    for external_id in svc.jobs.reserved_rewards(group, job.import_id):
        svc.rewards.release_job(group, external_id, job.import_id)


class _CardCache:
    """The program of cards read during one run (bounded: past the bound, cards are read again)."""

    def __init__(self) -> None:
        self._programs: dict[str, str] = {}

    def lookup(
        self, svc: ImportServices, group: str, card_codes: set[str], attribution_ids: set[str]
    ) -> tuple[dict[str, str], dict[str, Attribution]]:
        """(program of each existing card named, existing attributions), in one batched read."""
        unknown = sorted(card_codes - set(self._programs))
        found, attributions = svc.rewards.cards_and_attributions(group, unknown, sorted(attribution_ids))
        for card, program in found.items():
            if len(self._programs) < CARD_CACHE_MAX:
                self._programs[card] = program
        programs = {card: self._programs.get(card) or found.get(card) for card in card_codes}
        return {card: program for card, program in programs.items() if program}, attributions


def _chunk_tag(job: ImportJob) -> str:
    return f"{job.import_id}:{job.chunk}"


def _source(job: ImportJob, record: Record) -> str:
    return f"import:{job.import_id}:{record.line}"


# --- masterreward ------------------------------------------------------------------------


def _master_chunk(
    svc: ImportServices, group: str, job: ImportJob, chunk: list[Record], null_erases: bool
) -> _ChunkOutcome:
    outcome = _ChunkOutcome()
    assert job.header is not None and job.started_at is not None
    rows: list[tuple[Record, dict[str, str], str]] = []
    for record in chunk:
        try:
            row = row_of(job.header, record.fields)
            rows.append((record, row, master_external_id(row)))
        except LineSkipped as problem:
            outcome.skipped.append(_skip(record, problem))
    tag = _chunk_tag(job)
    before = svc.rewards.rewards_before_chunk(group, sorted({e for _, _, e in rows}), tag)
    state: dict[str, MasterReward | None] = dict(before)
    changed: set[str] = set()
    for record, row, external_id in rows:
        stored = state.get(external_id)
        try:
            spec = master_spec(row, stored, null_erases)
        except LineSkipped as problem:
            outcome.skipped.append(_skip(record, problem))
            continue
        state[external_id] = MasterReward(
            **spec.model_dump(),
            external_id=external_id,
            created_at=stored.created_at if stored else job.started_at,
            updated_at=job.started_at,
            updated_by=_source(job, record),
        )
        changed.add(external_id)
        outcome.applied += 1
    items = []
    for external_id in sorted(changed):
        reward = state[external_id]
        assert reward is not None
        items.append(reward_item(group, reward, tag, before.get(external_id)))
    outcome.items = items
    return outcome


# --- earnreward --------------------------------------------------------------------------


def _earn_chunk(
    svc: ImportServices,
    group: str,
    job: ImportJob,
    chunk: list[Record],
    rewards: dict[str, MasterReward],
    cards: _CardCache,
) -> _ChunkOutcome:
    outcome = _ChunkOutcome()
    assert job.header is not None and job.started_at is not None and job.subsection is not None
    now = job.started_at  # one instant per job: a replay decides exactly as the first run did
    day_start = file_day_start(now)
    lines: list[tuple[Record, EarnLine]] = []
    for record in chunk:
        try:
            lines.append((record, earn_line(row_of(job.header, record.fields), now, day_start)))
        except LineSkipped as problem:
            outcome.skipped.append(_skip(record, problem))
    unread = sorted({line.reward_id for _, line in lines} - set(rewards))
    if unread:
        rewards.update(svc.rewards.rewards(group, unread))
    ids = {
        record.line: line.attribution_id or generated_attribution_id(job.import_id, record.line)
        for record, line in lines
        if line.reward_id in rewards
    }
    programs, existing = cards.lookup(svc, group, {line.card_code for _, line in lines}, set(ids.values()))
    candidates: list[tuple[Record, EarnLine, MasterReward, str, bool]] = []  # (…, replayed)
    seen: set[str] = set()
    for record, line in lines:
        try:
            reward = rewards.get(line.reward_id)
            if reward is None:
                raise LineSkipped("unknown_reward", "reward_id", f"no master reward {line.reward_id!r}")
            if reward.is_auto_generated and line.attribution_id is not None:
                raise LineSkipped(
                    "attribution_id_not_allowed",
                    "attribution_id",
                    "the reward generates its attributions: leave attribution_id empty",
                )
            if not reward.is_auto_generated and line.attribution_id is None:
                raise LineSkipped("missing_value", "attribution_id", "attribution_id is mandatory and empty")
            program = programs.get(line.card_code)
            if program is None:
                raise LineSkipped("unknown_card", "card_code", f"no card {line.card_code!r}")
            if program != job.subsection:
                raise LineSkipped(
                    "card_not_in_program",
                    "card_code",
                    f"the card belongs to program {program!r}, not {job.subsection!r}",
                )
            attribution_id = ids[record.line]
            found = existing.get(attribution_id)
            replayed = found is not None and found.source == _source(job, record)
            if (found is not None and not replayed) or attribution_id in seen:
                raise LineSkipped(
                    "duplicate_attribution",
                    "attribution_id",
                    f"attribution {attribution_id!r} exists already",
                )
            seen.add(attribution_id)
            candidates.append((record, line, reward, attribution_id, replayed))
        except LineSkipped as problem:
            outcome.skipped.append(_skip(record, problem))
    units = _reserve_units(svc, group, job, candidates, outcome)
    items = []
    for record, line, reward, attribution_id, replayed in candidates:
        if reward.stock_limit is None:
            codes = generated_codes(_source(job, record), line.quantity)
        else:
            first = units[reward.external_id].take(line.quantity)
            if first is None:
                outcome.skipped.append(
                    _skip(
                        record,
                        LineSkipped(
                            "out_of_stock", "quantity", f"reward {reward.external_id!r} is out of stock"
                        ),
                    )
                )
                continue
            codes = stock_codes(reward.external_id, first, line.quantity)
        outcome.applied += 1
        if replayed:
            continue  # written by the interrupted attempt of this chunk, with the same units
        burns = []
        if line.burned_at is not None:
            burns = [
                Burn(
                    source=_source(job, record),
                    burned_at=line.burned_at,
                    quantity=line.quantity,
                    context=line.context,
                    store_id=line.store_id,
                    recorded_at=now,
                    burned_after=line.quantity,
                )
            ]
        attribution = Attribution(
            attribution_id=attribution_id,
            reward_id=reward.external_id,
            card_code=line.card_code,
            program_id=job.subsection,
            quantity=line.quantity,
            codes=codes,
            earned_at=line.earned_at,
            valid_from=line.valid_from,
            valid_until=line.valid_until,
            context=line.context,
            store_id=line.store_id,
            nqp_spent=0,
            source=_source(job, record),
            created_at=now,
            burned=line.quantity if burns else 0,
            burns=burns,
        )
        items.append(attribution_item(group, attribution))
    outcome.items = items
    return outcome


@dataclass
class _Units:
    next_unit: int
    left: int

    def take(self, quantity: int) -> int | None:
        if quantity > self.left:
            self.left = 0  # greedy in line order: once a line does not fit, later lines get nothing
            return None
        first = self.next_unit
        self.next_unit += quantity
        self.left -= quantity
        return first


def _fitting(quantities: list[int], available: int) -> int:
    """Units of the longest run of lines, in line order, that fits in `available`."""
    total = 0
    for quantity in quantities:
        if total + quantity > available:
            break
        total += quantity
    return total


def _reserve_units(
    svc: ImportServices,
    group: str,
    job: ImportJob,
    candidates: list[tuple[Record, EarnLine, MasterReward, str, bool]],
    outcome: _ChunkOutcome,
) -> dict[str, _Units]:
    """One stock reservation per finite reward per chunk, of exactly the units its lines will
    use (replays get the first reservation back)."""
    demand: dict[str, list[int]] = defaultdict(list)
    limits: dict[str, int] = {}
    for _, line, reward, _, _ in candidates:
        if reward.stock_limit is not None:
            demand[reward.external_id].append(line.quantity)
            limits[reward.external_id] = reward.stock_limit
    units: dict[str, _Units] = {}
    for external_id, quantities in sorted(demand.items()):
        limit = limits[external_id]
        wanted = _fitting(quantities, limit)
        reservation = None
        for _ in range(20):
            if wanted == 0:
                break
            reservation = svc.rewards.reserve(group, external_id, job.import_id, job.chunk, wanted, limit)
            if reservation is not None:
                break
            wanted = _fitting(quantities, max(0, limit - svc.rewards.taken(group, external_id)))
        outcome.reserved.add(external_id)
        units[external_id] = (
            _Units(reservation.first_unit, reservation.units) if reservation else _Units(0, 0)
        )
    return units


# --- burnreward --------------------------------------------------------------------------


def _burn_chunk(
    svc: ImportServices, group: str, job: ImportJob, chunk: list[Record], cards: _CardCache
) -> _ChunkOutcome:
    outcome = _ChunkOutcome()
    assert job.header is not None and job.started_at is not None
    now = job.started_at
    lines = []
    for record in chunk:
        try:
            lines.append((record, burn_line(row_of(job.header, record.fields))))
        except LineSkipped as problem:
            outcome.skipped.append(_skip(record, problem))
    programs, attributions = cards.lookup(
        svc, group, {line.card_code for _, line in lines}, {line.attribution_id for _, line in lines}
    )
    for record, line in lines:
        source = _source(job, record)
        try:
            if line.card_code not in programs:
                raise LineSkipped("unknown_card", "card_code", f"no card {line.card_code!r}")
            if programs[line.card_code] != job.subsection:
                raise LineSkipped(
                    "card_not_in_program",
                    "card_code",
                    f"the card belongs to program {programs[line.card_code]!r}, not {job.subsection!r}",
                )
            attribution = attributions.get(line.attribution_id)
            if attribution is None:
                raise LineSkipped(
                    "unknown_attribution", "attribution_id", f"no attribution {line.attribution_id!r}"
                )
            if any(burn.source == source for burn in attribution.burns):
                outcome.applied += 1  # recorded by the interrupted attempt of this chunk
                continue
            burned_at = line.burned_at(now)
            check_burn(attribution, line.card_code, burned_at, 1, now)
            burn = Burn(
                source=source,
                burned_at=burned_at,
                quantity=1,
                context=line.context,
                store_id=line.store_id,
                recorded_at=now,
                burned_after=attribution.burned + 1,
            )
            try:
                attributions[line.attribution_id] = svc.rewards.add_burn(
                    group, line.attribution_id, burn, attribution.quantity
                )
            except BurnRefused as refused:
                current = refused.current
                if current is not None and any(b.source == source for b in current.burns):
                    attributions[line.attribution_id] = current
                    outcome.applied += 1
                    continue
                if current is None:
                    raise LineSkipped(
                        "unknown_attribution", "attribution_id", "no such attribution"
                    ) from None
                attributions[line.attribution_id] = current
                check_burn(current, line.card_code, burned_at, 1, now)
                raise LineSkipped(
                    "already_burned", "attribution_id", "the attribution is fully burned"
                ) from None
            outcome.applied += 1
        except (LineSkipped, RuleBroken) as problem:
            outcome.skipped.append(_skip(record, problem))
    return outcome
