"""What the appliers of the three scopes share: a chunk's outcome, skipped lines, the cards
read during a run, and the source tag every written line carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import GeneratedAttribution, ImportJob, SkippedLine
from loyalty_engine.imports.rows import LineSkipped
from loyalty_engine.rewards.models import Attribution, RuleBroken

CARD_CACHE_MAX = 50_000  # cards known to exist (and their program) per run: ~5 MB at most


@dataclass
class ChunkOutcome:
    applied: int = 0
    unchanged: int = 0  # member and vip lines that asked for what was already so
    skipped: list[SkippedLine] = field(default_factory=list)
    reserved: set[str] = field(default_factory=set)
    generated: list[GeneratedAttribution] = field(default_factory=list)  # earnreward: ids of ours
    items: list[dict[str, Any]] = field(default_factory=list)  # to put once the chunk is decided


def skipped(record: Record, problem: RuleBroken) -> SkippedLine:
    return SkippedLine(
        line=record.line, code=problem.code, field=problem.field, message=problem.message, raw=record.raw
    )


def check_card_program(programs: dict[str, str], card_code: str, program_id: str | None) -> None:
    """A line's card must exist (`unknown_card`) and belong to the file's program
    (`card_not_in_program`); `programs` maps the chunk's known cards to their programs."""
    program = programs.get(card_code)
    if program is None:
        raise LineSkipped("unknown_card", "card_code", f"no card {card_code!r}")
    if program != program_id:
        raise LineSkipped(
            "card_not_in_program", "card_code", f"the card belongs to program {program!r}, not {program_id!r}"
        )


class CardCache:
    """The program of cards read during one run (bounded: past the bound, cards are read again)."""

    def __init__(self) -> None:
        self._programs: dict[str, str] = {}

    def lookup(
        self, svc: ImportServices, group: str, card_codes: set[str], attribution_ids: set[str]
    ) -> tuple[dict[str, str], dict[str, Attribution]]:
        """(program of each existing card named, existing attributions), in one batched read."""
        unknown = sorted(card_codes - set(self._programs))
        found, attributions = svc.rewards.cards_and_attributions(
            group, unknown, sorted(attribution_ids), svc.io_threads
        )
        for card, program in found.items():
            if len(self._programs) < CARD_CACHE_MAX:
                self._programs[card] = program
        programs = {card: self._programs.get(card) or found.get(card) for card in card_codes}
        return {card: program for card, program in programs.items() if program}, attributions


def chunk_tag(job: ImportJob) -> str:
    return f"{job.import_id}:{job.chunk}"


def line_source(job: ImportJob, record: Record) -> str:
    return f"import:{job.import_id}:{record.line}"
