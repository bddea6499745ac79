"""Tier runs against a reference written straight from the rules (tests/support/tiers.py):

- "A member moves to the highest tier whose entry threshold their valid Q points reach";
- "A member below the downgrade threshold of their tier drops to the tier their Q points
  support, but never by more than maximum tier downgrade tiers at once";
- relative downgrades happen to the members whose anniversary fell since the previous run;
- a run that already changed a member (its mark) leaves it alone: a run applied twice is
  the run applied once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.members import Member
from loyalty_engine.tiers.rules import apply_change, decide_run
from tests.support.tiers import (
    program,
    ref_anniversaries,
    ref_downgrade,
    ref_upgrade,
    ref_valid_q,
)

JOBS = ("tier-upgrade", "tier-downgrade")
VIP_NAMES = ("staff", "press", "family")
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def instants(low_days: int, high_days: int) -> st.SearchStrategy[datetime]:
    return st.integers(low_days * 86_400, high_days * 86_400).map(lambda s: BASE + timedelta(seconds=s))


@st.composite
def tier_programs(draw):
    count = draw(st.integers(1, 5))
    entries = [draw(st.integers(0, 50))]
    for _ in range(count - 1):
        entries.append(entries[-1] + draw(st.integers(1, 400)))
    downs = [draw(st.integers(0, entry)) for entry in entries]
    tier_list = [
        {"rank": n + 1, "name": f"T{n + 1}", "entry_threshold": e, "downgrade_threshold": d}
        for n, (e, d) in enumerate(zip(entries, downs, strict=True))
    ]
    if draw(st.booleans()):
        downgrade = {"mode": "calendar", "first_run_at": "2027-01-01T03:00:00+01:00", "periodicity": "yearly"}
    else:
        unit = draw(st.sampled_from(["day", "week", "month", "year"]))
        value = draw(st.integers(1, 3 if unit != "day" else 60))
        downgrade = {"mode": "relative", "every": {"value": value, "unit": unit}}
    max_down = draw(st.integers(1, count + 1))
    vip = [{"name": name, "nq_multiplier": "2"} for name in VIP_NAMES]
    return program(tier_list, max_down=max_down, downgrade=downgrade, vip=vip)


@st.composite
def lots(draw):
    kind = draw(st.sampled_from(["q", "q", "nq"]))
    available_at = draw(instants(-400, 1200))
    expires_at = draw(
        st.none() | st.integers(0, 500 * 86_400).map(lambda s: available_at + timedelta(seconds=s))
    )
    return Lot(
        lot_id=f"L{draw(st.integers(0, 10**6))}",
        kind=kind,
        points=draw(st.integers(0, 700)),
        available_at=available_at,
        expires_at=expires_at,
    )


@st.composite
def members(draw, tier_count: int):
    marks = {}
    for job in JOBS:
        if draw(st.booleans()):
            marks[job] = draw(instants(-200, 1300))
    return Member(
        card_code="CARD-0001",
        program_id="club",
        subscribed_at=draw(instants(-500, 1100)),
        created_at=BASE,
        tier_rank=draw(st.none() | st.integers(1, tier_count)),
        vip_tiers=sorted(draw(st.sets(st.sampled_from(VIP_NAMES)))),
        lots=draw(st.lists(lots(), max_size=6)),
        version=draw(st.integers(0, 50)),
        tier_marks=marks,
    )


@st.composite
def cases(draw):
    prog = draw(tier_programs())
    person = draw(members(len(prog.tier_settings.tiers)))
    job = draw(st.sampled_from(JOBS))
    at = draw(instants(0, 1200))
    previous = draw(st.none() | st.integers(3600, 400 * 86_400).map(lambda s: at - timedelta(seconds=s)))
    return prog, person, job, at, previous


def reference(prog, person: Member, job: str, at: datetime, previous: datetime | None) -> int | None:
    """The member's tier after the run, from the rules."""
    settings_ = prog.tier_settings
    entries = [tier.entry_threshold for tier in settings_.tiers]
    downs = [tier.downgrade_threshold for tier in settings_.tiers]
    mark = person.tier_marks.get(job)
    if mark is not None and mark >= at:  # this run (or a later one) changed the member already
        return person.tier_rank
    if any(other_at > at for other, other_at in person.tier_marks.items() if other != job):
        return person.tier_rank  # the other job changed it after this run's time
    q = ref_valid_q(person.lots, at)
    if job == "tier-upgrade":
        return ref_upgrade(entries, person.tier_rank, q)
    if settings_.downgrade.mode == "relative":
        every = settings_.downgrade.every
        passed = ref_anniversaries(person.subscribed_at, every.value, every.unit, at)
        if not passed:
            return person.tier_rank
        due = passed[-1]
        if previous is not None and due <= previous:  # an earlier run saw this anniversary
            return person.tier_rank
        if mark is not None and mark >= due:  # changed since the anniversary
            return person.tier_rank
    return ref_downgrade(downs, person.tier_rank, q, settings_.max_tier_downgrade)


@settings(max_examples=600, deadline=None)
@given(case=cases())
def test_a_run_decides_as_the_rules_say(case):
    prog, person, job, at, previous = case
    expected = reference(prog, person, job, at, previous)
    change = decide_run(prog, person, job, at, previous)
    if expected == person.tier_rank:
        assert change is None
        return
    assert change is not None
    assert (change.new_tier.rank if change.new_tier else None) == expected
    assert (change.previous_tier.rank if change.previous_tier else None) == person.tier_rank
    assert change.q_points == ref_valid_q(person.lots, at)
    assert change.cause == ("upgrade_run" if job == "tier-upgrade" else "downgrade_run")
    assert change.vip_tiers == person.vip_tiers
    assert change.member_version == person.version + 1
    if job == "tier-upgrade":
        assert expected > (person.tier_rank or 0)
    else:
        assert person.tier_rank is not None
        assert person.tier_rank - prog.tier_settings.max_tier_downgrade <= (expected or 0) < person.tier_rank
    after = apply_change(person, change)
    assert after.tier_rank == expected
    assert after.vip_tiers == person.vip_tiers and after.lots == person.lots
    assert after.tier_marks == {**person.tier_marks, job: at}


@settings(max_examples=600, deadline=None)
@given(case=cases())
def test_a_run_applied_twice_is_applied_once(case):
    prog, person, job, at, previous = case

    def run(m: Member) -> Member:
        change = decide_run(prog, m, job, at, previous)
        return m if change is None else apply_change(m, change)

    once = run(person)
    assert run(once) == once


@settings(max_examples=400, deadline=None)
@given(prog=tier_programs(), data=st.data())
def test_upgrade_and_downgrade_at_one_instant_commute(prog, data):
    """The sample program runs both jobs at 03:00 GMT+1 on 1 January: their order must not matter."""
    person = data.draw(members(len(prog.tier_settings.tiers))).model_copy(update={"tier_marks": {}})
    at = data.draw(instants(0, 1200))
    previous = at - timedelta(days=1)

    def run(m: Member, job: str) -> Member:
        change = decide_run(prog, m, job, at, previous)
        return m if change is None else apply_change(m, change)

    up_first = run(run(person, "tier-upgrade"), "tier-downgrade")
    down_first = run(run(person, "tier-downgrade"), "tier-upgrade")
    assert up_first.tier_rank == down_first.tier_rank
