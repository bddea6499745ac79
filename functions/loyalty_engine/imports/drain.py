"""Draining a loyalty group: its files under `incoming/` applied one at a time in order of date,
then scope, whatever order they arrived in, under a lock that keeps one drain per group; a
file that fails the same way three times ends as `failed` so the files after it still apply."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aws_lambda_powertools import Logger

from loyalty_engine.imports.apply import apply_file
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import (
    FileName,
    FileRejected,
    incoming_key,
    parse_file_name,
    processed_key,
    split_incoming_key,
)
from loyalty_engine.imports.finish import finish, release_reservations
from loyalty_engine.imports.jobs import ImportJob, Rejection, job_id_for
from loyalty_engine.kernel.dynamo import refused_request
from loyalty_engine.kernel.objects import StoredObject

logger = Logger(service="loyalty-engine", child=True)

LOCK_LEASE_S = 16 * 60  # longer than a Lambda can run: a crashed holder's lock frees itself

MAX_FAILURES = 3
_DETERMINISTIC = (ValueError, TypeError, KeyError, AssertionError, UnicodeError)


def pending_files(svc: ImportServices, group: str) -> list[FileName]:
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


MAX_DELAY_S = 900  # SQS's longest message delay


def quiet_wait_s(svc: ImportServices, group: str) -> int:
    """Seconds until no file of the group has arrived for its quiet period (0: drain now)."""
    found = svc.groups.get_group(group)
    period = svc.quiet_period_s
    if found is not None and found.settings.import_quiet_period_s is not None:
        period = found.settings.import_quiet_period_s
    if period <= 0:
        return 0
    newest = svc.objects.newest_upload_time(incoming_key(group, ""))
    if newest is None:
        return 0
    return max(0, math.ceil(newest + period - svc.wall_clock()))


def drain(svc: ImportServices, group: str, remaining_ms: Callable[[], float]) -> None:
    """Apply the group's waiting files, once none arrived for the quiet period: until then the
    drain is sent back to the queue, delayed by what is left of the period."""
    owner = f"{time.time_ns()}-{id(svc)}"
    while True:
        wait = quiet_wait_s(svc, group)
        if wait > 0 and svc.queue is not None:
            logger.info(
                "group's uploads not quiet yet; drain delayed", extra={"group": group, "wait_s": wait}
            )
            svc.queue.send({"drain": {"group": group}}, delay_s=min(wait, MAX_DELAY_S))
            return
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
        if not pending_files(svc, group):
            return


def _drain_locked(svc: ImportServices, group: str, remaining_ms: Callable[[], float]) -> bool:
    while pending := pending_files(svc, group):
        file_name = pending[0]
        stored = svc.objects.oldest_upload(incoming_key(group, file_name.name))
        if stored is None:
            continue  # moved meanwhile (by an earlier run); list again
        job = job_for(svc, group, file_name.name, stored)
        if job.done:
            release_reservations(svc, group, job)  # again: the run that completed it may have died
        else:
            try:
                if not apply_file(svc, group, job, file_name, stored, remaining_ms):
                    return False
            except Exception as error:
                if not poisoned(svc, group, job, error):
                    raise
        svc.objects.move(stored, processed_key(group, file_name.name, job.import_id))
    return True


def poisoned(svc: ImportServices, group: str, job: ImportJob, error: Exception) -> bool:
    """Count a failure that would happen again on every delivery (a bug, an item DynamoDB
    refuses); at the third, end the job as `failed` with a report, so that the group's later
    files are not blocked behind it. Transient failures are not counted: SQS retries them."""
    if not (isinstance(error, _DETERMINISTIC) or refused_request(error)):
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
    kind = f"{type(error).__name__} ValidationException" if refused_request(error) else type(error).__name__
    failed = current.model_copy(
        update={
            "state": "failed",
            "failures": failures,
            "finished_at": now,
            "rejection": Rejection(
                code="internal_error",
                message=f"the import stopped after {current.progress.lines_read} lines "
                f"({kind}); the lines before were applied: contact the operator",
            ),
        }
    )
    finish(svc, group, failed, expected_chunk=current.chunk)
    release_reservations(svc, group, failed)
    return True


def job_for(svc: ImportServices, group: str, name: str, stored: StoredObject) -> ImportJob:
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
        uploaded_at=stored.uploaded_at,
    )
    return svc.jobs.create_job(group, job)
