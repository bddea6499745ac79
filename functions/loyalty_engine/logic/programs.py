"""Use cases: create/replace and read programs."""

from __future__ import annotations

from loyalty_engine.domain.access import Caller
from loyalty_engine.domain.errors import program_not_found
from loyalty_engine.domain.programs import Program, ProgramSpec
from loyalty_engine.logic.context import Context


def put_program(ctx: Context, caller: Caller, program_id: str, spec: ProgramSpec) -> tuple[int, Program]:
    """Create (201) or replace (200) a program. Replaying the same spec changes nothing."""
    group = caller.group_id
    previous = ctx.groups.get_program(group, program_id, consistent=True)
    if (
        previous is not None
        and ProgramSpec.model_validate(previous.model_dump(include=set(ProgramSpec.model_fields))) == spec
    ):
        _sync_schedules(ctx, group, previous)  # a retry after a failed sync converges here
        return 200, previous
    now = ctx.clock()
    program = Program(
        **spec.model_dump(),
        program_id=program_id,
        created_at=previous.created_at if previous else now,
        updated_at=now,
        version=previous.version + 1 if previous else 1,
    )
    ctx.groups.put_program(group, program, previous)
    ctx.forget_program(group, program_id)
    _sync_schedules(ctx, group, program)
    return (200 if previous else 201), program


def _sync_schedules(ctx: Context, group: str, program: Program) -> None:
    """The program's job schedules follow its settings (a failure answers 503: retry the PUT)."""
    store = ctx.schedules()
    if store is not None:
        from loyalty_engine.domain.jobs import schedule_specs  # only where schedules are managed

        store.sync(schedule_specs(group, program), ctx.clock())


def get_program(ctx: Context, caller: Caller, program_id: str) -> Program:
    program = ctx.groups.get_program(caller.group_id, program_id)
    if program is None:
        raise program_not_found(program_id)
    return program
