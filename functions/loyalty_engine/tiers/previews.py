"""A dry run of a scheduled job: what the run "as of" an instant would change, with nothing written.

An operator's run as of an instant in the future is refused (`jobs.future_refusal`): it would
take away what is still valid now. `preview_run` is what they can do instead, at any instant:
it reads every member of the program, shard by shard, and decides each as the run would (the
same rules, as of the same instant), but writes nothing: no run item, no member, no ledger
entry, no tier history. So it does not look at whether that run already happened; the members
it already changed are left alone by the rules, as a repeated run would leave them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import Field

from loyalty_engine.kernel.ids import new_id
from loyalty_engine.kernel.table import MEMBER_SHARDS
from loyalty_engine.points import ledger
from loyalty_engine.points.job_names import JobName
from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program
from loyalty_engine.tiers.as_of import in_force, late_upgrade_of
from loyalty_engine.tiers.context import JobServices
from loyalty_engine.tiers.jobs import JobModel, JobRequest, job_calendar, skip_reason
from loyalty_engine.tiers.rules import decide_run
from loyalty_engine.tiers.run_use_cases import has_expired, valid_q_at

SAMPLE_CARDS = 20


class CardOutcome(JobModel):
    card_code: str
    outcome: str  # e.g. "Silver -> Blue", "6500 NQ and 650 Q expire", "NQ 120 but its ledger sums to 100"


class RunPreview(JobModel):
    """What a run would do (`state: dry_run`), or why it would not run at all (`skipped`)."""

    group: str
    program_id: str
    job: JobName
    scheduled_at: datetime
    state: Literal["dry_run", "skipped"]
    reason: str | None = None
    written: Literal[False] = Field(default=False, description="A dry run writes nothing")
    members: int = 0  # members read
    changed: int = 0  # members the run would write (tier moved, points expired)
    moves: dict[str, int] = Field(default_factory=dict, description='Tier runs: "Silver -> Blue": members')
    expiring_nq: int = 0  # expire-points: NQ points it would remove
    expiring_q: int = 0
    drift: int = 0  # reconcile (as of now, whatever the instant): balances that are not their ledger's sum
    cards: list[CardOutcome] = Field(
        default_factory=list,
        description=f"The first {SAMPLE_CARDS} cards concerned, with what happens to them",
    )


def preview_run(services: JobServices, request: JobRequest) -> RunPreview:
    """Decide every member of the program as the run as of `request.scheduled_at` would; write nothing."""
    program = services.programs.get_program(request.group, request.program_id, consistent=True)
    base = RunPreview(
        group=request.group,
        program_id=request.program_id,
        job=request.job,
        scheduled_at=request.scheduled_at,
        state="dry_run",
    )
    if reason := skip_reason(request, program, manual=True):
        return base.model_copy(update={"state": "skipped", "reason": reason})
    assert program is not None
    calendar = job_calendar(request.job, program)
    judged = in_force(services, program, request) or program
    previous = calendar.last_before(request.scheduled_at) if calendar is not None else None
    tally = _Tally()
    for shard in range(MEMBER_SHARDS):
        cursor: str | None = None
        while True:
            members, cursor = services.jobs.members_page(request.group, request.program_id, shard, cursor)
            for member in members:
                _decide(services, judged, request, previous, member, tally)
            tally.members += len(members)
            if cursor is None:
                break
    return base.model_copy(
        update={
            "members": tally.members,
            "changed": tally.changed,
            "moves": dict(sorted(tally.moves.items())),
            "expiring_nq": tally.nq,
            "expiring_q": tally.q,
            "drift": tally.drift,
            "cards": tally.cards,
        }
    )


class _Tally:
    def __init__(self) -> None:
        self.members = self.changed = self.nq = self.q = self.drift = 0
        self.moves: Counter[str] = Counter()
        self.cards: list[CardOutcome] = []

    def concerns(self, card_code: str, outcome: str) -> None:
        if len(self.cards) < SAMPLE_CARDS:
            self.cards.append(CardOutcome(card_code=card_code, outcome=outcome))


def _decide(
    services: JobServices,
    program: Program,
    request: JobRequest,
    previous: datetime | None,
    member: Member,
    tally: _Tally,
) -> None:
    at = request.scheduled_at
    if request.job in ("tier-upgrade", "tier-downgrade"):
        q_points = valid_q_at(services, request.group, member, at)
        change = decide_run(program, member, request.job, at, previous, q_points)
        if change is None:
            change = late_upgrade_of(services, program, request, member, q_points)
        if change is not None:
            tally.changed += 1
            before = change.previous_tier.name if change.previous_tier else "no tier"
            after = change.new_tier.name if change.new_tier else "no tier"
            tally.moves[f"{before} -> {after}"] += 1
            tally.concerns(member.card_code, f"{before} -> {after}")
    elif request.job == "expire-points":
        if not has_expired(member, at):
            return
        full, _ = services.members.load(request.group, member.card_code, [])
        _, entries = ledger.expire_due(full.lots if full is not None else [], at, new_id)
        if entries:
            nq, q = -sum(entry.nq for entry in entries), -sum(entry.q for entry in entries)
            tally.changed += 1
            tally.nq, tally.q = tally.nq + nq, tally.q + q
            tally.concerns(member.card_code, f"{nq} NQ and {q} Q expire")
    else:  # reconcile reads the ledger as it is: twice, as the run does, before calling it drift
        for attempt in range(2):
            current, nq, q, _ = services.jobs.ledger_sums(request.group, member.card_code)
            if current is None:
                return
            balances = ledger.balance(current.lots, "nq"), ledger.balance(current.lots, "q")
            if balances == (nq, q):
                return
            if attempt:
                tally.drift += 1
                tally.concerns(
                    member.card_code,
                    f"NQ {balances[0]} and Q {balances[1]}, but the ledger sums to NQ {nq} and Q {q}",
                )
