"""What a tier run replayed late judges with: the program as it was at the run's instant, and
for an upgrade run whose members later runs changed, the member's tier history
(DOMAIN.md, "Late data and catch-up": a run replayed late decides as it would have on time)."""

from __future__ import annotations

from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program
from loyalty_engine.points.tier_history import TierChange
from loyalty_engine.tiers.context import JobServices
from loyalty_engine.tiers.jobs import JobRequest
from loyalty_engine.tiers.rules import late_upgrade, ran_since


def in_force(services: JobServices, program: Program | None, message: JobRequest) -> Program | None:
    """The program a tier run judges with: as it was at the run's instant, so that a run replayed
    late uses the tiers and thresholds in force then (the version saved last at or before it)."""
    if program is None or message.job not in ("tier-upgrade", "tier-downgrade"):
        return program
    if program.version > 1 and program.updated_at > message.scheduled_at:
        return (
            services.programs.program_at(message.group, message.program_id, message.scheduled_at) or program
        )
    return program


def late_upgrade_of(
    services: JobServices, program: Program, message: JobRequest, member: Member, q_points: int
) -> TierChange | None:
    """A missed upgrade run replayed after later runs changed the member: its entry, written
    into the history at its instant when the later changes agree (rules.late_upgrade). Reads
    the member's tier history, for those members only."""
    if message.job != "tier-upgrade" or not ran_since(member, message.scheduled_at):
        return None
    changes = services.members.tier_changes(message.group, member.card_code)
    return late_upgrade(program, member, changes, message.scheduled_at, q_points)
