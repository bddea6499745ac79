"""Bringing every program's schedules in line with the table: after every deploy (the
ScheduleSync function, a custom resource of the stack) and on demand (`loyalty-admin
sync-schedules`).

The API keeps a program's schedules in step when the program is saved; this sync repairs
what happened outside it: a schedule group re-created with the stack (its schedules are gone,
the programs are not), a schedule deleted by hand, a sync that failed. It

1. lists every program of every group (gsi1 `PROGRAMS`, keys only) and syncs each one's
   schedules from the program as the table has it now (a consistent read), reading it again
   afterwards and syncing again if it was saved meanwhile (the API syncs a saved program itself,
   and a stale sync must not have the last word);
2. lists the schedule group and deletes the schedules no program wants, but only after reading
   the program a schedule names: one the index does not show yet is synced instead, and the
   schedules of a program whose sync failed are left alone (as they all are when the programs
   could not all be listed).

Every call is an upsert or a delete, so running it twice, or beside the API, converges. A
program whose sync fails (Scheduler or DynamoDB unavailable) is reported and the others go on.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.errors import DomainError
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.settings import ScheduleSyncSettings, load
from loyalty_engine.kernel.timeutil import utcnow
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.tiers.jobs import live_schedule_names
from loyalty_engine.tiers.schedule_store import ScheduleStore, scheduler_client

# A program saved again and again during one sync is synced at most this many times; the
# API's own sync of its last save has the last word anyway.
MAX_SYNCS_PER_PROGRAM = 3


@dataclass
class ScheduleSyncServices:
    programs: ProgramStore
    schedules: ScheduleStore
    clock: Callable[[], datetime] = utcnow


def schedule_sync_services(*, retry_attempts: int, max_event_age_s: int) -> ScheduleSyncServices:
    """From the environment (`ScheduleSyncSettings`), with the schedules' retry policy the API
    gives them too (`wiring.PROGRAM_SCHEDULES`): otherwise each sync would undo the other's."""
    config = load(ScheduleSyncSettings)
    return ScheduleSyncServices(
        programs=ProgramStore(client(), config.table_name),
        schedules=ScheduleStore(
            scheduler_client(),
            group_name=config.schedule_group,
            role_arn=config.scheduler_role_arn,
            target_arn=config.job_target_arn,
            dead_letter_arn=config.schedule_dlq_arn or "",
            retry_attempts=retry_attempts,
            max_event_age_s=max_event_age_s,
        ),
    )


class ScheduleSyncReport(DeferredModel):
    schedule_group: str
    programs: int = 0  # programs whose schedules were synced
    schedules: int = 0  # schedules the programs want (they exist after the sync)
    deleted: list[str] = Field(default_factory=list)  # schedules no program wants, deleted
    failed: list[str] = Field(default_factory=list)  # "<group>/<program>: <reason>" or "<schedule>: <reason>"

    def summary(self) -> str:
        text = (
            f"{self.programs} programs, {self.schedules} schedules in {self.schedule_group}, "
            f"{len(self.deleted)} deleted"
        )
        return text + (f", {len(self.failed)} FAILED" if self.failed else "")


class _Sync:
    def __init__(self, services: ScheduleSyncServices):
        self.services = services
        self.now = services.clock()
        self.report = ScheduleSyncReport(schedule_group=services.schedules.group_name)
        self.wanted: set[str] = set()
        self.seen: set[tuple[str, str]] = set()
        self.failed: set[tuple[str, str]] = set()  # programs whose schedules are left as they are

    def program(self, group: str, program_id: str) -> None:
        """Sync one program's schedules from its current state (a missing program: nothing)."""
        if (group, program_id) in self.seen:
            return
        self.seen.add((group, program_id))
        programs, schedules = self.services.programs, self.services.schedules
        try:
            program = programs.get_program(group, program_id, consistent=True)
            if program is None:
                return
            for _ in range(MAX_SYNCS_PER_PROGRAM):
                schedules.sync_program(group, program, self.now)
                latest = programs.get_program(group, program_id, consistent=True)
                if latest is None or latest.version == program.version:
                    break
                program = latest  # saved while we synced: sync what it is now
        except DomainError as error:
            self.failed.add((group, program_id))
            self.report.failed.append(f"{group}/{program_id}: {error.message}")
            return
        names = live_schedule_names(group, program, self.now)
        self.wanted |= names
        self.report.programs += 1
        self.report.schedules += len(names)

    def strays(self) -> None:
        """Delete the group's schedules that no program wants."""
        schedules = self.services.schedules
        try:
            names = schedules.schedule_names()
        except DomainError as error:
            self.report.failed.append(f"{schedules.group_name}: {error.message}")
            return
        for name in names:
            if name in self.wanted:
                continue
            try:
                owner = schedules.schedule_owner(name)
                if owner is not None and owner not in self.seen:
                    self.program(*owner)  # a program the index does not show (yet)
                if name in self.wanted or owner in self.failed:
                    continue  # wanted after all, or its program could not be read or synced
                schedules.delete_schedule(name)
            except DomainError as error:
                self.report.failed.append(f"{name}: {error.message}")
                continue
            self.report.deleted.append(name)


def sync_all_schedules(services: ScheduleSyncServices) -> ScheduleSyncReport:
    """Every program's schedules as its settings say, and no other schedule in the group."""
    sync = _Sync(services)
    try:
        for group, program_id in services.programs.all_program_keys():
            sync.program(group, program_id)
    except DomainError as error:
        # Not every program was seen: deleting "strays" now could delete wanted schedules.
        sync.report.failed.append(f"listing the programs: {error.message}")
        return sync.report
    sync.strays()
    return sync.report
