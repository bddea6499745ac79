"""A chunk of a vip file: grant or remove VIP tiers through the use case the API uses
(`tiers.vip_use_cases.change_vip`), the import's line recorded as the change's source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from loyalty_engine.imports.chunks import ChunkOutcome, check_card_program, line_source, skipped
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.rows import LineSkipped, row_of
from loyalty_engine.imports.rows_members import VipLine, vip_line
from loyalty_engine.kernel.errors import DomainError, program_not_found
from loyalty_engine.points.member_store import MemberStore
from loyalty_engine.points.program_store import ProgramStore
from loyalty_engine.points.programs import Program
from loyalty_engine.tiers.vip_use_cases import change_vip

# The use case's refusals, as the import reports them (the names of the other scopes' reasons).
REASONS = {"vip_tier_not_found": "unknown_vip_tier", "member_not_found": "unknown_card"}


@dataclass
class ImportPoints:
    """The points port (`points.context.PointsContext`) for the importer: programs read once per run."""

    programs: ProgramStore
    members: MemberStore
    clock: Callable[[], datetime]
    _cache: dict[tuple[str, str], Program] = field(default_factory=dict)

    def program(self, group: str, program_id: str) -> Program:
        if (group, program_id) not in self._cache:
            program = self.programs.get_program(group, program_id)
            if program is None:
                raise program_not_found(program_id)
            self._cache[(group, program_id)] = program
        return self._cache[(group, program_id)]

    def forget_program(self, group: str, program_id: str) -> None:
        self._cache.pop((group, program_id), None)

    def program_saved(self, group: str, program: Program) -> None:
        self.forget_program(group, program.program_id)


def vip_chunk(
    svc: ImportServices, group: str, job: ImportJob, chunk: list[Record], points: ImportPoints
) -> ChunkOutcome:
    """The cards of the chunk are read at once (their program); each valid line is then one
    change of its member, in line order."""
    outcome = ChunkOutcome()
    assert job.header is not None and job.subsection is not None
    lines: list[tuple[Record, VipLine]] = []
    for record in chunk:
        try:
            lines.append((record, vip_line(row_of(job.header, record.fields))))
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
    programs = svc.members.programs_of(group, sorted({line.card_code for _, line in lines}))
    for record, line in lines:
        try:
            check_card_program(programs, line.card_code, job.subsection)
            _, body = change_vip(
                points,
                group,
                line.card_code,
                line.vip_tier,
                grant=line.grant,
                reason=line.reason,
                import_line=line_source(job, record),
            )
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
            continue
        except DomainError as refused:
            code = REASONS.get(refused.code, refused.code)
            field_name = "vip_tier" if code == "unknown_vip_tier" else "card_code"
            outcome.skipped.append(skipped(record, LineSkipped(code, field_name, refused.message)))
            continue
        if body["outcome"] == "applied":
            outcome.applied += 1
        else:
            outcome.unchanged += 1
    return outcome
