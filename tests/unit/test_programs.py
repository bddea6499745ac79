from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from loyalty_engine.kernel.timeutil import add_duration
from loyalty_engine.kernel.types import Duration
from loyalty_engine.points.programs import NQPointSettings, ProgramSpec, TierSettings


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [("down", 99), ("up", 100), ("nearest", 100)],
)
def test_rounding_modes(rounding, expected):
    settings = NQPointSettings(conversion_rate=Decimal(10), rounding=rounding)
    assert settings.points_for(Decimal("9.95")) == expected  # 99.5 points


def test_nearest_rounds_half_up_and_multiplier_applies_before_rounding():
    settings = NQPointSettings(conversion_rate=Decimal("1.5"), rounding="nearest")
    assert settings.points_for(Decimal("3")) == 5  # 4.5 -> 5
    assert settings.points_for(Decimal("3"), Decimal("1.5")) == 7  # 6.75 -> 7


@pytest.mark.parametrize("unit", ["day", "days", "DAYS", " Day "])
def test_duration_units_accept_singular_plural_any_case(unit):
    assert Duration(value=2, unit=unit).unit == "day"


def test_month_arithmetic_clamps_to_month_end():
    jan31 = datetime(2027, 1, 31, 10, tzinfo=UTC)
    assert add_duration(jan31, 1, "month") == datetime(2027, 2, 28, 10, tzinfo=UTC)
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert add_duration(leap, 1, "year") == datetime(2029, 2, 28, tzinfo=UTC)
    assert add_duration(leap, 4, "year") == datetime(2032, 2, 29, tzinfo=UTC)


def _tiers(*thresholds: tuple[int, int]) -> list[dict]:
    return [
        {"rank": n + 1, "name": f"T{n + 1}", "entry_threshold": e, "downgrade_threshold": d}
        for n, (e, d) in enumerate(thresholds)
    ]


def _tier_settings(tiers: list[dict]) -> dict:
    return {
        "tiers": tiers,
        "upgrade": {"first_run_at": "2027-01-01T00:00:00+01:00"},
        "downgrade": {"mode": "relative", "every": {"value": 1, "unit": "years"}},
    }


def test_tier_defaults_multipliers_to_rank():
    settings = TierSettings.model_validate(_tier_settings(_tiers((0, 0), (100, 80), (500, 400))))
    assert [t.effective_nq_multiplier for t in settings.tiers] == [1, 2, 3]
    assert settings.tier(2).name == "T2" and settings.tier(4) is None


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (_tiers((0, 0), (0, 0)), "entry_threshold must be above"),
        (_tiers((0, 0), (100, 150)), "downgrade_threshold must not exceed"),
        ([{"rank": 2, "name": "x", "entry_threshold": 0, "downgrade_threshold": 0}], "by rank"),
    ],
)
def test_invalid_tier_sets_are_refused(tiers, message):
    with pytest.raises(ValidationError, match=message):
        TierSettings.model_validate(_tier_settings(tiers))


def test_program_kind_and_dates_are_consistent():
    base = {"name": "P", "currency": "EUR", "starts_at": "2027-01-01T00:00:00+01:00"}
    with pytest.raises(ValidationError, match="tier_settings"):
        ProgramSpec.model_validate({**base, "kind": "tiered"})
    with pytest.raises(ValidationError, match="ends_at"):
        ProgramSpec.model_validate({**base, "ends_at": "2026-01-01T00:00:00Z"})
    spec = ProgramSpec.model_validate(base)
    assert spec.starts_at == datetime(2026, 12, 31, 23, tzinfo=UTC)


def test_periods_are_bounded_and_arithmetic_never_overflows():
    with pytest.raises(ValidationError, match="100 years"):
        Duration(value=10_000, unit="years")
    assert Duration(value=100, unit="years").value == 100
    late = datetime(9999, 6, 1, tzinfo=UTC)
    assert add_duration(late, 1, "year") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert add_duration(late, 400, "day") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
