"""Tiered programs and members built in memory for the tier tests, and a reference of the
tier rules written straight from DOMAIN.md (independent of loyalty_engine.tiers.rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta

from loyalty_engine.points.ledger import Lot
from loyalty_engine.points.members import Member
from loyalty_engine.points.programs import Program
from loyalty_engine.tiers.calendars import PROGRAM_TZ

START = datetime(2025, 12, 31, 23, tzinfo=UTC)  # 2026-01-01 00:00 GMT+1, as the sample program


def tiers(*thresholds: tuple[int, int], **multipliers: Any) -> list[dict[str, Any]]:
    """Tier dicts T1..Tn from (entry, downgrade) thresholds."""
    return [
        {"rank": n + 1, "name": f"T{n + 1}", "entry_threshold": e, "downgrade_threshold": d, **multipliers}
        for n, (e, d) in enumerate(thresholds)
    ]


def program(
    tier_list: list[dict[str, Any]],
    *,
    max_down: int = 1,
    downgrade: dict[str, Any] | None = None,
    vip: list[dict[str, Any]] | None = None,
    ends_at: datetime | None = None,
    program_id: str = "club",
) -> Program:
    return Program.model_validate(
        {
            "program_id": program_id,
            "name": "Club",
            "kind": "tiered",
            "currency": "EUR",
            "starts_at": START,
            "ends_at": ends_at,
            "created_at": START,
            "updated_at": START,
            "tier_settings": {
                "tiers": tier_list,
                "max_tier_downgrade": max_down,
                "upgrade": {"first_run_at": "2026-01-02T03:00:00+01:00", "periodicity": "daily"},
                "downgrade": downgrade
                or {"mode": "calendar", "first_run_at": "2027-01-01T03:00:00+01:00", "periodicity": "yearly"},
            },
            "vip_tiers": vip or [],
        }
    )


def simple_program(program_id: str = "plain") -> Program:
    return Program.model_validate(
        {
            "program_id": program_id,
            "name": "Plain",
            "currency": "EUR",
            "starts_at": START,
            "created_at": START,
            "updated_at": START,
        }
    )


def q_lot(points: int, available_at: datetime, expires_at: datetime | None = None, lot_id: str = "L") -> Lot:
    return Lot(lot_id=lot_id, kind="q", points=points, available_at=available_at, expires_at=expires_at)


def member(
    rank: int | None,
    *lots: Lot,
    vip: list[str] | None = None,
    subscribed_at: datetime = START,
    marks: dict[str, datetime] | None = None,
) -> Member:
    return Member(
        card_code="CARD-0001",
        program_id="club",
        subscribed_at=subscribed_at,
        created_at=subscribed_at,
        tier_rank=rank,
        vip_tiers=vip or [],
        lots=list(lots),
        tier_marks=marks or {},
    )


# ---------------------------------------------------------------- reference rules


def ref_valid_q(lots: list[Lot], at: datetime) -> int:
    """Q points that count at `at`: credited (holding over) and not yet expired."""
    total = 0
    for lot in lots:
        if lot.kind != "q":
            continue
        if lot.available_at > at:
            continue
        if lot.expires_at is not None and lot.expires_at <= at:
            continue
        total += lot.points
    return total


def ref_upgrade(entries: list[int], rank: int | None, q: int) -> int | None:
    """The highest tier whose entry threshold the Q points reach; never lower than now."""
    best = None
    for index, entry in enumerate(entries):
        if q >= entry:
            best = index + 1
    if best is None or (rank is not None and best <= rank):
        return rank
    return best


def ref_downgrade(downs: list[int], rank: int | None, q: int, max_down: int) -> int | None:
    """Below the downgrade threshold of its tier, a member drops to the highest tier below
    whose downgrade threshold the Q points reach (or no tier), at most `max_down` tiers."""
    if rank is None or q >= downs[rank - 1]:
        return rank
    target = 0
    for lower in range(1, rank):
        if q >= downs[lower - 1]:
            target = lower
    target = max(target, rank - max_down)
    return target if target >= 1 else None


def ref_anniversaries(subscribed_at: datetime, value: int, unit: str, until: datetime) -> list[datetime]:
    """The member's anniversaries (subscription + k periods, k >= 1, in GMT+1 wall time) up to `until`."""
    start = subscribed_at.astimezone(PROGRAM_TZ)
    found = []
    k = 1
    while True:
        step = {
            "day": relativedelta(days=k * value),
            "week": relativedelta(weeks=k * value),
            "month": relativedelta(months=k * value),
            "year": relativedelta(years=k * value),
        }[unit]
        at = (start + step).astimezone(UTC)
        if at > until:
            return found
        found.append(at)
        k += 1


# The sample program's tiers, and a yearly relative downgrade.
SAMPLE = tiers((0, 0), (500, 400), (2000, 1500))

RELATIVE_YEAR = {"mode": "relative", "every": {"value": 1, "unit": "year"}}


def calendar_program(**overrides: Any) -> Program:
    """A one-tier program whose upgrades run daily and downgrades yearly on the calendar
    (2028-01-01), in GMT+1 unless `time_zone` says otherwise."""
    body = {
        "program_id": "club",
        "name": "Club",
        "kind": "tiered",
        "currency": "EUR",
        "starts_at": "2027-01-01T00:00:00+01:00",
        "tier_settings": {
            "tiers": [{"rank": 1, "name": "Blue", "entry_threshold": 0, "downgrade_threshold": 0}],
            "upgrade": {"first_run_at": "2027-01-02T02:30:00+01:00", "periodicity": "daily"},
            "downgrade": {
                "mode": "calendar",
                "first_run_at": "2028-01-01T00:00:00+01:00",
                "periodicity": "yearly",
            },
        },
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
    }
    return Program.model_validate(body | overrides)
