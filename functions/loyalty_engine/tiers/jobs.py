"""Scheduled jobs of a program: which run when, their schedules, runs and shard progress.

A run is identified by (group, program, job, scheduled time): a duplicate or retried
invocation of the same run finds the same run item and changes nothing twice.
"""

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from loyalty_engine.kernel import run_keys
from loyalty_engine.kernel.errors import InvalidRequest
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.kernel.timeutil import UtcDatetime
from loyalty_engine.kernel.types import SLUG_PATTERN
from loyalty_engine.points.job_names import JOB_NAMES, TIER_JOBS, JobName
from loyalty_engine.points.programs import Program
from loyalty_engine.tiers.calendars import SCHEDULER_TIMEZONE, Calendar, midnight_on_or_after

# Points jobs run every day, at these hours of the program's time zone: expiry just after
# midnight (lots expire at midnight), reconciliation in the quiet hours.
POINTS_JOB_HOURS: dict[JobName, int] = {"expire-points": 0, "reconcile": 3}
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # Scheduler's placeholder in the target input


class JobModel(DeferredModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobRequest(JobModel):
    """A schedule's invocation (or an operator's): run `job` of a program as of `scheduled_at`."""

    group: str = Field(pattern=SLUG_PATTERN)
    program_id: str = Field(pattern=SLUG_PATTERN)
    job: JobName
    scheduled_at: UtcDatetime

    @property
    def run_id(self) -> str:
        return f"{self.job}@{self.scheduled_at.strftime(run_keys.RUN_TIME_FORMAT)}"


class ShardMessage(JobRequest):
    """One worker's share of a run: the members of one gsi1 shard."""

    shard: int = Field(ge=0, lt=MEMBER_SHARDS)


class ShardProgress(JobModel):
    """A shard's checkpoint: written after every page, conditional on `pages`."""

    shard: int
    cursor: str | None = None  # the page to read next (None with pages == 0: from the start)
    pages: int = 0
    done: bool = False
    members: int = 0  # members read
    changed: int = 0  # members written (tier changed, points expired)
    drift: int = 0  # reconciliation: members whose balance is not the sum of their ledger
    retried: int = 0  # writes that lost a race (GSI lag or a concurrent write) and were decided again
    # reconciliation: members read by tier rank (or points.tier_counts.NO_TIER) and by VIP tier
    tiers: dict[str, int] = Field(default_factory=dict)
    vip_tiers: dict[str, int] = Field(default_factory=dict)
    updated_at: datetime


class RunSummary(JobModel):
    group: str
    program_id: str
    job: JobName
    scheduled_at: datetime
    state: Literal["running", "completed", "skipped"]
    reason: str | None = None  # why a run was skipped
    started_at: datetime
    completed_at: datetime | None = None  # when the last shard's worker closed it
    shards_done: int = 0
    members: int = 0
    changed: int = 0
    drift: int = 0
    retried: int = 0
    tiers: dict[str, int] = Field(default_factory=dict)  # reconciliation: see ShardProgress
    vip_tiers: dict[str, int] = Field(default_factory=dict)


def applies_to(job: JobName, program: Program) -> bool:
    return job not in TIER_JOBS or program.tier_settings is not None


def job_calendar(job: JobName, program: Program) -> Calendar | None:
    """When the job runs for this program; None when it does not apply."""
    if not applies_to(job, program):
        return None
    zone = program.time_zone
    if job in POINTS_JOB_HOURS:
        return Calendar(midnight_on_or_after(program.starts_at, POINTS_JOB_HOURS[job], zone), time_zone=zone)
    settings = program.tier_settings
    assert settings is not None
    if job == "tier-upgrade":
        assert settings.upgrade.first_run_at is not None  # a stored program has it (with_first_runs)
        return Calendar(settings.upgrade.first_run_at, 1, _UNIT[settings.upgrade.periodicity], zone)
    downgrade = settings.downgrade
    if downgrade.mode == "relative":  # every day, for the members whose anniversary has come
        return Calendar(midnight_on_or_after(program.starts_at, 0, zone), time_zone=zone)
    assert downgrade.first_run_at is not None
    return Calendar(downgrade.first_run_at, 1, _UNIT[downgrade.periodicity], zone)


_UNIT: dict[str, Any] = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}


def skip_reason(request: JobRequest, program: Program | None, *, manual: bool = False) -> str | None:
    """Why this run must not happen (None: run it). A manual (operator) run may be at any instant."""
    if program is None:
        return "program_not_found"
    calendar = job_calendar(request.job, program)
    if calendar is None:
        return "job_not_applicable"
    if request.job in TIER_JOBS and (
        request.scheduled_at < program.starts_at
        or (program.ends_at is not None and request.scheduled_at >= program.ends_at)
    ):
        return "program_not_active"
    if not manual and not calendar.is_occurrence(request.scheduled_at):
        return "not_an_occurrence"  # e.g. a cron firing on day 29 of a month-end calendar
    return None


# What an operator's run as of an instant in the future would do wrong, by job (see `future_refusal`).
_FUTURE_HARM: dict[JobName, str] = {
    "expire-points": "it would remove points that are still valid now",
    "tier-downgrade": "it would drop members from tiers that their Q points still hold now",
    "tier-upgrade": (
        "it would move members up on Q points they do not hold yet, and keep the runs until then "
        "from moving them"
    ),
    "reconcile": "it would check today's ledgers under that instant's name",
}


def future_refusal(request: JobRequest, now: datetime) -> InvalidRequest | None:
    """Why an operator's run as of `request.scheduled_at` must not run now (None: it may).

    Every job is refused as of an instant after `now`: each would change or claim what belongs
    to that instant, and the run scheduled at that instant would then find it done and not run.
    """
    if request.scheduled_at <= now:
        return None
    at, current = request.scheduled_at.isoformat(), now.isoformat()
    return InvalidRequest(
        f"{request.job} as of {at} is in the future (now is {current}): {_FUTURE_HARM[request.job]}, "
        "and the run scheduled at that instant would find it done and not run. Nothing was written; "
        "a dry run (--dry-run) says what it would do.",
        code="run_in_future",
        details=[{"field": "scheduled_at", "reason": "in_future", "now": current}],
    )


class ScheduleSpec(JobModel):
    """One EventBridge Scheduler schedule of a program."""

    name: str
    expression: str
    timezone: str = SCHEDULER_TIMEZONE
    start: datetime
    end: datetime | None
    input: dict[str, str]


def schedule_name(group: str, program_id: str, job: JobName) -> str:
    """At most 64 characters whatever the slugs' length (Scheduler's limit)."""
    digest = hashlib.sha256(f"{group}/{program_id}".encode()).hexdigest()[:32]
    return f"{job}-{digest}"


def schedule_specs(
    group: str, program: Program, now: datetime | None = None
) -> dict[str, ScheduleSpec | None]:
    """Every job's schedule by name, read in the program's time zone, firing from `now` on; None
    for a job that does not apply (its schedule is deleted)."""
    specs: dict[str, ScheduleSpec | None] = {}
    for job in JOB_NAMES:
        name = schedule_name(group, program.program_id, job)
        calendar = job_calendar(job, program)
        if calendar is None:
            specs[name] = None
            continue
        specs[name] = ScheduleSpec(
            name=name,
            expression=calendar.cron(since=now),
            timezone=program.time_zone,
            start=calendar.first,
            end=program.ends_at if job in TIER_JOBS else None,
            input={
                "group": group,
                "program_id": program.program_id,
                "job": job,
                "scheduled_at": SCHEDULED_TIME,
            },
        )
    return specs


def live_schedule_names(group: str, program: Program, now: datetime) -> set[str]:
    """The names of the program's schedules that exist after its sync at `now`: those of the
    jobs that apply, unless they have already ended (see `ScheduleStore.sync`)."""
    return {
        name
        for name, spec in schedule_specs(group, program).items()
        if spec is not None and (spec.end is None or spec.end > now)
    }
