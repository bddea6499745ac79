"""Where an import's reports go (one pair per import, in received order) and how long a group's
drain waits for its quiet period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from loyalty_engine.access.models import GroupSettings, LoyaltyGroup
from loyalty_engine.imports.context import ImportServices
from loyalty_engine.imports.drain import quiet_wait_s
from loyalty_engine.imports.files import report_keys

NAME = "demo_earnreward_silver_20180801.csv"
IDS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=26, max_size=26)
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@given(IDS, IDS, MOMENTS, MOMENTS)
def test_every_import_has_its_own_reports_listed_in_received_order(id_a, id_b, at_a, at_b):
    summary_a, skipped_a = report_keys("demo", NAME, at_a, id_a)
    summary_b, skipped_b = report_keys("demo", NAME, at_b, id_b)
    for key in (summary_a, skipped_a, summary_b, skipped_b):
        assert key.startswith(f"reports/demo/{NAME}/")
    assert summary_a.removesuffix(".report.json") == skipped_a.removesuffix(".skipped.csv")
    if id_a != id_b:
        assert summary_a != summary_b
    if at_a < at_b:
        assert summary_a < summary_b


def test_a_received_time_is_written_in_utc():
    summary, _ = report_keys("demo", NAME, datetime(2018, 8, 1, 10, 0, tzinfo=UTC) + timedelta(0), "A" * 26)
    assert summary == f"reports/demo/{NAME}/20180801T100000Z-{'A' * 26}.report.json"


@dataclass
class _Groups:
    setting: int | None

    def get_group(self, group: str) -> LoyaltyGroup | None:
        settings = GroupSettings(import_quiet_period_s=self.setting)
        return LoyaltyGroup(
            group_id=group, name=group, settings=settings, created_at=datetime(2020, 1, 1, tzinfo=UTC)
        )


@dataclass
class _Objects:
    newest: float | None

    def newest_upload_time(self, prefix: str) -> float | None:
        assert prefix == "incoming/demo/"
        return self.newest


def _services(stage: int, setting: int | None, newest: float | None, now: float) -> ImportServices:
    svc: Any = ImportServices.__new__(ImportServices)
    svc.groups, svc.objects, svc.quiet_period_s, svc.wall_clock = (
        _Groups(setting),
        _Objects(newest),
        stage,
        lambda: now,
    )
    return cast(ImportServices, svc)


@given(
    stage=st.integers(0, 900),
    setting=st.none() | st.integers(0, 900),
    age=st.none() | st.floats(-5, 2000, allow_nan=False),
)
def test_the_drain_waits_what_is_left_of_the_period_after_the_newest_upload(stage, setting, age):
    now = 1_800_000_000.0
    wait = quiet_wait_s(_services(stage, setting, None if age is None else now - age, now), "demo")
    period = stage if setting is None else setting
    if age is None or period == 0 or age >= period:
        assert wait == 0
    else:
        assert 0 < wait <= period + 5
        assert abs(wait - (period - age)) < 1
