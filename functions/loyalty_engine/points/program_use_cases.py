"""Use cases: create/replace, read and list programs; their members per tier."""

from __future__ import annotations

from loyalty_engine.access.models import Caller
from loyalty_engine.kernel.errors import Conflict, InvalidRequest, program_not_found
from loyalty_engine.kernel.types import same_spec
from loyalty_engine.points.context import PointsContext
from loyalty_engine.points.programs import Program, ProgramPage, ProgramSpec
from loyalty_engine.points.tier_counts import TierCounts, counts_view


def put_program(
    ctx: PointsContext, caller: Caller, program_id: str, spec: ProgramSpec
) -> tuple[int, Program]:
    """Create (201) or replace (200) a program. Replaying the same spec changes nothing."""
    if repeated := spec.first_runs_at_a_repeated_time():
        raise InvalidRequest(
            f"{', '.join(repeated)}: a wall time that {spec.time_zone} shows twice, given at its second "
            "pass; schedules fire such a time once, at its first pass: give that one (the earlier offset)",
            details=[{"field": field, "reason": "repeated_wall_time"} for field in repeated],
        )
    group = caller.group_id
    previous = ctx.programs.get_program(group, program_id, consistent=True)
    now = ctx.clock()
    spec = spec.with_first_runs(previous.created_at if previous else now)
    if previous is not None and same_spec(spec, previous):
        ctx.program_saved(group, previous)  # a retry after a failed schedule sync converges here
        return 200, previous
    removed = _removed_ranks(previous, spec)
    removed_vips = _removed_vip_tiers(previous, spec)
    if (removed or removed_vips) and ctx.programs.has_members(group, program_id):
        details: list[dict[str, object]] = []
        if removed:
            details.append({"field": "tier_settings.tiers", "reason": "tiers_in_use", "ranks": removed})
        if removed_vips:
            details.append({"field": "vip_tiers", "reason": "tiers_in_use", "names": removed_vips})
        lost = ", ".join(
            [f"tiers {removed}"] * bool(removed) + [f"VIP tiers {removed_vips}"] * bool(removed_vips)
        )
        raise Conflict(
            f"the program has members and would lose its {lost}: a member would be left in a tier the "
            "program no longer has, with no history of the change; raise the thresholds of a standard "
            "tier instead (the downgrade runs move its members down, with history), stop granting a VIP "
            "tier, or drop them before the first member",
            code="tiers_in_use",
            details=details,
        )
    program = Program(
        **spec.model_dump(),
        program_id=program_id,
        created_at=previous.created_at if previous else now,
        updated_at=now,
        version=previous.version + 1 if previous else 1,
    )
    ctx.programs.put_program(group, program, previous)
    ctx.forget_program(group, program_id)
    ctx.program_saved(group, program)  # its schedules follow it (a failure answers 503: retry the PUT)
    return (200 if previous else 201), program


def _removed_ranks(previous: Program | None, spec: ProgramSpec) -> list[int]:
    """The tier ranks `previous` has and `spec` does not (all of them for a tiered program made
    simple): members may hold them."""
    before = len(previous.tier_settings.tiers) if previous and previous.tier_settings else 0
    after = len(spec.tier_settings.tiers) if spec.tier_settings else 0
    return list(range(after + 1, before + 1))


def _removed_vip_tiers(previous: Program | None, spec: ProgramSpec) -> list[str]:
    """The VIP tiers `previous` has and `spec` does not (a renamed one included): members may hold
    them, and no bounded read tells whether one does (the holders are on the member items only)."""
    kept = {vip.name for vip in spec.vip_tiers}
    return [vip.name for vip in previous.vip_tiers if vip.name not in kept] if previous else []


def get_program(ctx: PointsContext, caller: Caller, program_id: str) -> Program:
    program = ctx.programs.get_program(caller.group_id, program_id)
    if program is None:
        raise program_not_found(program_id)
    return program


def list_programs(ctx: PointsContext, caller: Caller, limit: int, cursor: str | None) -> ProgramPage:
    """One page of the caller's group's programs, by program id."""
    programs, next_cursor = ctx.programs.programs_page(caller.group_id, limit, cursor)
    return ProgramPage(programs=programs, next_cursor=next_cursor)


def tier_counts(ctx: PointsContext, caller: Caller, program_id: str) -> TierCounts:
    """The program's members per tier as its latest reconciliation run counted them."""
    program = get_program(ctx, caller, program_id)
    return counts_view(program, ctx.programs.get_tier_tally(caller.group_id, program_id))
