"""A chunk of a masterreward file: create or update master rewards of the catalog."""

from __future__ import annotations

from pydantic import ValidationError

from loyalty_engine.imports.chunks import ChunkOutcome, chunk_tag, line_source, skipped
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.rows import LineSkipped, master_external_id, master_spec, row_of
from loyalty_engine.rewards.models import MasterReward, RewardSpec
from loyalty_engine.rewards.store import reward_item


def master_chunk(
    svc: ImportServices, group: str, job: ImportJob, chunk: list[Record], null_erases: bool
) -> ChunkOutcome:
    outcome = ChunkOutcome()
    assert job.header is not None and job.started_at is not None
    rows: list[tuple[Record, dict[str, str], str]] = []
    for record in chunk:
        try:
            row = row_of(job.header, record.fields)
            rows.append((record, row, master_external_id(row)))
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
    tag = chunk_tag(job)
    before = svc.rewards.rewards_before_chunk(group, sorted({e for _, _, e in rows}), tag, svc.io_threads)
    state: dict[str, MasterReward | None] = dict(before)
    changed: set[str] = set()
    for record, row, external_id in rows:
        stored = state.get(external_id)
        try:
            spec = master_spec(row, stored, null_erases)
            state[external_id] = _reward(spec, external_id, stored, job, record)
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
            continue
        changed.add(external_id)
        outcome.applied += 1
    items = []
    for external_id in sorted(changed):
        reward = state[external_id]
        assert reward is not None
        items.append(reward_item(group, reward, tag, before.get(external_id)))
    outcome.items = items
    return outcome


def _reward(
    spec: RewardSpec, external_id: str, stored: MasterReward | None, job: ImportJob, record: Record
) -> MasterReward:
    """The line's reward; a value the line checks let through is still the line's fault: it is
    skipped (`invalid_value`), never a failure of the file."""
    assert job.started_at is not None
    try:
        return MasterReward(
            **spec.model_dump(),
            external_id=external_id,
            created_at=stored.created_at if stored else job.started_at,
            updated_at=job.started_at,
            updated_by=line_source(job, record),
        )
    except ValidationError as error:
        raise LineSkipped.of(error) from None
