"""A chunk of a burnreward file: record the burns of attributions, one unit per line."""

from __future__ import annotations

from loyalty_engine.imports.chunks import CardCache, ChunkOutcome, check_card_program, line_source, skipped
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.rows import LineSkipped, burn_line, row_of
from loyalty_engine.rewards.models import Burn, RuleBroken, check_burn
from loyalty_engine.rewards.store import BurnRefused


def burn_chunk(
    svc: ImportServices, group: str, job: ImportJob, chunk: list[Record], cards: CardCache
) -> ChunkOutcome:
    outcome = ChunkOutcome()
    assert job.header is not None and job.started_at is not None
    now = job.started_at
    lines = []
    for record in chunk:
        try:
            lines.append((record, burn_line(row_of(job.header, record.fields))))
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
    programs, attributions = cards.lookup(
        svc, group, {line.card_code for _, line in lines}, {line.attribution_id for _, line in lines}
    )
    for record, line in lines:
        source = line_source(job, record)
        try:
            check_card_program(programs, line.card_code, job.subsection)
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
        except RuleBroken as problem:  # a LineSkipped too
            outcome.skipped.append(skipped(record, problem))
    return outcome
