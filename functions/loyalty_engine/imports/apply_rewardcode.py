"""A chunk of a rewardcode file: load codes into the stock of loaded-codes rewards, in line order.

Each code is added once per reward (`duplicate_code` for a code already loaded, by an
earlier line, file or API call); a replayed chunk finds the codes its lines loaded (their
source) and counts them as applied again, as its first attempt did.
"""

from __future__ import annotations

from collections import defaultdict

from loyalty_engine.imports.chunks import ChunkOutcome, line_source, skipped
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.files import Record
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.rows import LineSkipped, master_external_id, row_of
from loyalty_engine.rewards.code_use_cases import ALREADY_LOADED, load
from loyalty_engine.rewards.codes import CodeSource, code_problem


def code_of(row: dict[str, str]) -> str:
    code = (row.get("code") or "").strip()
    if not code or code == "NULL":
        raise LineSkipped("missing_value", "code", "code is mandatory and empty")
    problem = code_problem(code)
    if problem:
        raise LineSkipped("invalid_code", "code", problem)
    return code


def code_chunk(svc: ImportServices, group: str, job: ImportJob, chunk: list[Record]) -> ChunkOutcome:
    outcome = ChunkOutcome()
    assert job.header is not None
    lines: list[tuple[Record, str, str]] = []
    for record in chunk:
        try:
            row = row_of(job.header, record.fields)
            lines.append((record, master_external_id(row), code_of(row)))
        except LineSkipped as problem:
            outcome.skipped.append(skipped(record, problem))
    rewards = svc.rewards.rewards(group, sorted({e for _, e, _ in lines})) if lines else {}
    by_reward: dict[str, list[tuple[Record, str]]] = defaultdict(list)
    for record, external_id, code in lines:
        reward = rewards.get(external_id)
        if reward is None:
            outcome.skipped.append(
                skipped(
                    record, LineSkipped("unknown_reward", "external_id", f"no master reward {external_id!r}")
                )
            )
        elif reward.codes != CodeSource.LOADED:
            message = f"reward {external_id!r} generates its codes (codes=generated): nothing to load"
            outcome.skipped.append(skipped(record, LineSkipped("codes_not_loaded", "external_id", message)))
        else:
            by_reward[external_id].append((record, code))
    for external_id, entries in sorted(by_reward.items()):
        statuses = load(
            svc.rewards, group, external_id, [(code, line_source(job, record)) for record, code in entries]
        )
        for (record, code), status in zip(entries, statuses, strict=True):
            if status == ALREADY_LOADED:
                duplicate = LineSkipped(
                    "duplicate_code", "code", f"code {code!r} is already loaded for {external_id!r}"
                )
                outcome.skipped.append(skipped(record, duplicate))
            else:
                outcome.applied += 1
    outcome.skipped.sort(key=lambda s: s.line)
    return outcome
