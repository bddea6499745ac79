"""A chunk of an earnreward file: attribute rewards to cards, with generated or loaded codes."""

from __future__ import annotations

from loyalty_engine.imports.chunks import CardCache, ChunkOutcome, check_card_program, line_source, skipped
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record, file_day_start
from loyalty_engine.imports.jobs import GeneratedAttribution, ImportJob
from loyalty_engine.imports.rows import EarnLine, LineSkipped, earn_line, row_of
from loyalty_engine.imports.stock import Units, reserve_units
from loyalty_engine.rewards.code_use_cases import report_exhausted
from loyalty_engine.rewards.codes import CodeSource, generate_codes
from loyalty_engine.rewards.models import Attribution, Burn, MasterReward, generated_attribution_id
from loyalty_engine.rewards.store import attribution_item


def earn_chunk(
    svc: ImportServices,
    group: str,
    job: ImportJob,
    chunk: list[Record],
    rewards: dict[str, MasterReward],
    cards: CardCache,
) -> ChunkOutcome:
    outcome = ChunkOutcome()
    assert job.header is not None and job.started_at is not None and job.subsection is not None
    now = job.started_at  # one instant per job: a replay decides exactly as the first run did
    day_start = file_day_start(job.imported_at)  # the upload's day, however late it is applied
    lines: list[tuple[Record, EarnLine]] = []
    for record in chunk:
        try:
            lines.append((record, earn_line(row_of(job.header, record.fields), now, day_start)))
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
    unread = sorted({line.reward_id for _, line in lines} - set(rewards))
    if unread:
        rewards.update(svc.rewards.rewards(group, unread))
    ids = {
        record.line: line.attribution_id or generated_attribution_id(job.import_id, record.line)
        for record, line in lines
        if line.reward_id in rewards
    }
    programs, existing = cards.lookup(svc, group, {line.card_code for _, line in lines}, set(ids.values()))
    candidates: list[tuple[Record, EarnLine, MasterReward, str, bool]] = []  # (…, replayed)
    ours = {line_source(job, record) for record, _ in lines}  # written by this chunk's interrupted attempt
    for record, line in lines:
        try:
            reward = rewards.get(line.reward_id)
            if reward is None:
                raise LineSkipped("unknown_reward", "reward_id", f"no master reward {line.reward_id!r}")
            if reward.is_auto_generated and line.attribution_id is not None:
                raise LineSkipped(
                    "attribution_id_not_allowed",
                    "attribution_id",
                    "the reward generates its attributions: leave attribution_id empty",
                )
            if not reward.is_auto_generated and line.attribution_id is None:
                raise LineSkipped("missing_value", "attribution_id", "attribution_id is mandatory and empty")
            check_card_program(programs, line.card_code, job.subsection)
            attribution_id = ids[record.line]
            found = existing.get(attribution_id)
            replayed = found is not None and found.source == line_source(job, record)
            if found is not None and found.source not in ours:
                raise LineSkipped(
                    "duplicate_attribution",
                    "attribution_id",
                    f"attribution {attribution_id!r} exists already",
                )
            # an id repeated in the chunk: the first line served takes it (`stock.serving`)
            candidates.append((record, line, reward, attribution_id, replayed))
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
    units = reserve_units(svc, group, job, candidates, outcome)
    loaded = {  # a loaded-codes reward's codes of this chunk's reservation, by unit number
        e: dict(enumerate(svc.rewards.codes.codes_at(group, e, u.next_unit, u.left), start=u.next_unit))
        for e, u in sorted(units.items())
        if u.left and rewards[e].codes == CodeSource.LOADED
    }
    exhausted: set[str] = set()
    items = []
    taken: dict[str, int] = {}  # attribution id -> the line served with it
    for record, line, reward, attribution_id, replayed in candidates:
        if attribution_id in taken:
            message = f"attribution {attribution_id!r} is given by line {taken[attribution_id]} of this file"
            outcome.skipped.append(
                skipped(record, LineSkipped("duplicate_attribution", "attribution_id", message))
            )
            continue
        if reward.stock_limit is None:
            codes = generate_codes(line.quantity)
        else:
            first = units[reward.external_id].take(line.quantity)
            if first is None:
                said = _what_was_left(reward, units[reward.external_id], line.quantity)
                refusal = LineSkipped("out_of_stock", "quantity", said)
                if reward.codes == CodeSource.LOADED:
                    refusal = LineSkipped("reward_codes_exhausted", "quantity", f"{said}: load more codes")
                    exhausted.add(reward.external_id)
                outcome.skipped.append(skipped(record, refusal))
                continue
            if reward.codes == CodeSource.LOADED:
                codes = [loaded[reward.external_id][unit] for unit in range(first, first + line.quantity)]
            else:
                codes = generate_codes(line.quantity)
        outcome.applied += 1
        taken[attribution_id] = record.line
        if line.attribution_id is None:  # ours: the report lists it (a replay writes the same record)
            outcome.generated.append(
                GeneratedAttribution(
                    line=record.line,
                    attribution_id=attribution_id,
                    reward_id=reward.external_id,
                    card_code=line.card_code,
                )
            )
        if replayed:
            continue  # written by the interrupted attempt of this chunk, with the same units
        burns = []
        if line.burned_at is not None:
            burns = [
                Burn(
                    source=line_source(job, record),
                    burned_at=line.burned_at,
                    quantity=line.quantity,
                    context=line.context,
                    store_id=line.store_id,
                    recorded_at=now,
                    burned_after=line.quantity,
                )
            ]
        attribution = Attribution(
            attribution_id=attribution_id,
            reward_id=reward.external_id,
            card_code=line.card_code,
            program_id=job.subsection,
            quantity=line.quantity,
            codes=codes,
            earned_at=line.earned_at,
            valid_from=line.valid_from,
            valid_until=line.valid_until,
            context=line.context,
            store_id=line.store_id,
            nqp_spent=0,
            source=line_source(job, record),
            created_at=now,
            burned=line.quantity if burns else 0,
            burns=burns,
        )
        items.append(attribution_item(group, attribution))
    for external_id in sorted(exhausted):
        report_exhausted(external_id, f"import:{job.import_id}")
    outcome.items = items
    return outcome


def _what_was_left(reward: MasterReward, units: Units, asked: int) -> str:
    """A refused line's message: the reward, the units (or loaded codes) left when the line's
    turn came, and what it asked."""
    loaded = reward.codes == CodeSource.LOADED
    left = units.stock_left()
    if left is None:  # not read: no line fitted even the whole stock
        what = "loaded codes" if loaded else "units"
        return f"reward {reward.external_id!r} has {units.limit} {what} in all; the line asks {asked}"
    what = ("loaded code" if loaded else "unit") + ("" if left == 1 else "s")
    return f"reward {reward.external_id!r} has {left} {what} left; the line asks {asked}"
