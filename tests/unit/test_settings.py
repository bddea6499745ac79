"""Each function's settings: validated once from the environment, a missing variable named."""

from __future__ import annotations

import pytest

from loyalty_engine import wiring
from loyalty_engine.kernel import settings
from loyalty_engine.kernel.settings import (
    ApiSettings,
    ImporterSettings,
    InstrumentSettings,
    JobSettings,
    SettingsError,
    load,
)


@pytest.fixture(autouse=True)
def _fresh():
    settings.forget()
    yield
    settings.forget()


def test_a_missing_variable_stops_the_function_with_its_name(monkeypatch) -> None:
    monkeypatch.delenv("IMPORT_BUCKET", raising=False)
    with pytest.raises(SettingsError, match=r"ImporterSettings.*IMPORT_BUCKET.*Field required"):
        load(ImporterSettings)


def test_an_empty_variable_is_not_a_value(monkeypatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "")
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        load(JobSettings)


def test_optional_variables_say_what_their_absence_means(monkeypatch) -> None:
    for name in ("JOB_QUEUE_URL", "EXPORT_BUCKET", "BATCH_QUEUE_URL", "SYNC_BATCH_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    assert load(JobSettings).job_queue_url is None  # shards run inline
    instruments = load(InstrumentSettings)
    assert (instruments.export_bucket, instruments.batch_queue_url, instruments.sync_batch_limit) == (
        None,
        None,
        1000,
    )


def test_values_are_typed_and_checked(monkeypatch) -> None:
    monkeypatch.setenv("SYNC_BATCH_LIMIT", "-1")
    with pytest.raises(SettingsError, match="SYNC_BATCH_LIMIT"):
        load(InstrumentSettings)
    settings.forget()
    monkeypatch.setenv("SYNC_BATCH_LIMIT", "250")
    assert load(InstrumentSettings).sync_batch_limit == 250


def test_managed_schedules_need_their_role_and_target(monkeypatch) -> None:
    monkeypatch.setenv("SCHEDULE_GROUP", "programs")
    monkeypatch.delenv("SCHEDULER_ROLE_ARN", raising=False)
    with pytest.raises(SettingsError, match="SCHEDULER_ROLE_ARN"):
        load(ApiSettings)


def test_settings_are_read_once_per_container(monkeypatch) -> None:
    first = load(JobSettings)
    monkeypatch.setenv("TABLE_NAME", "another-table")
    assert load(JobSettings) is first
    settings.forget()
    assert load(JobSettings).table_name == "another-table"


def test_every_function_names_a_settings_model() -> None:
    for function in wiring.FUNCTIONS:
        assert issubclass(getattr(settings, function.settings), settings.Settings), function.name
    assert {f.settings for f in wiring.FUNCTIONS} >= {"ApiSettings", "ImporterSettings", "JobSettings"}
