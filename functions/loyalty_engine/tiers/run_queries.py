"""Use cases: an operator reads a program's scheduled runs (admin keys; the group is the key's):
the runs newest first, of every job or one, and one run with the progress of each shard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel.errors import NotFound, program_not_found
from loyalty_engine.points.job_names import JOB_NAMES, JobName
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.tiers.run_store import RunStore
from loyalty_engine.tiers.run_views import RunDetail, RunPage, run_detail, run_view


class RunReaders(Protocol):
    programs: ProgramStore

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def runs(self) -> RunStore: ...


def _known_program(ctx: RunReaders, caller: Caller, program_id: str) -> None:
    if ctx.programs.get_program(caller.group_id, program_id) is None:
        raise program_not_found(program_id)


def list_runs(
    ctx: RunReaders, caller: Caller, program_id: str, job: JobName | None, limit: int, cursor: str | None
) -> RunPage:
    """The program's runs (of `job` only, if given), newest scheduled first, a page at a time. A
    running run's shards are read too (one Query each) to tell whether it still moves on: runs
    complete within minutes, so a page rarely holds more than one running."""
    _known_program(ctx, caller, program_id)
    jobs = (job,) if job else JOB_NAMES
    stored, next_cursor = ctx.runs.runs_page(caller.group_id, program_id, jobs, limit, cursor)
    now, runs = ctx.clock(), []
    for values in stored:
        run_id = f"{values['job']}@{values['scheduled_at_key']}"
        shards = (
            ctx.runs.run(caller.group_id, program_id, run_id)[1] if values["state"] != "completed" else {}
        )
        runs.append(run_view(values, run_id, shards, now))
    return RunPage(runs=runs, next_cursor=next_cursor)


def get_run(ctx: RunReaders, caller: Caller, program_id: str, run_id: str) -> RunDetail:
    """One run of the program with every shard's progress (404 `run_not_found`)."""
    _known_program(ctx, caller, program_id)
    summary, shards = ctx.runs.run(caller.group_id, program_id, run_id)
    if summary is None:
        raise NotFound(f"run {run_id!r} of program {program_id!r} not found", code="run_not_found")
    return run_detail(summary, run_id, shards, ctx.clock())
