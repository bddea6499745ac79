"""Import file dates: fixed GMT+1 without daylight saving, complete or refused (pure: no AWS;
split from test_import_files.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty_engine.imports.files import ValueProblem, file_day_start, parse_file_datetime


def test_file_datetimes_are_gmt_plus_one_without_daylight_saving():
    # winter and summer alike: one hour ahead of UTC
    assert parse_file_datetime("2021-01-15 10:00:05", time_optional=False) == datetime(
        2021, 1, 15, 9, 0, 5, tzinfo=UTC
    )
    assert parse_file_datetime("2021-07-15 10:00:05", time_optional=False) == datetime(
        2021, 7, 15, 9, 0, 5, tzinfo=UTC
    )
    # midnight GMT+1 is 23:00 UTC the day before, across a year boundary too
    assert parse_file_datetime("2019-01-01 00:00:00", time_optional=False) == datetime(
        2018, 12, 31, 23, 0, tzinfo=UTC
    )
    assert parse_file_datetime(" 2019-01-01 00:30:00 ", time_optional=False) == datetime(
        2018, 12, 31, 23, 30, tzinfo=UTC
    )


def test_date_only_is_midnight_where_the_time_is_optional():
    assert parse_file_datetime("2018-09-09", time_optional=True) == datetime(2018, 9, 8, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueProblem) as raised:
        parse_file_datetime("2018-09-09", time_optional=False)
    assert raised.value.code == "incomplete_datetime"


def test_29_february():
    assert parse_file_datetime("2020-02-29 12:00:00", time_optional=False) == datetime(
        2020, 2, 29, 11, 0, tzinfo=UTC
    )
    assert parse_file_datetime("2020-02-29", time_optional=True) == datetime(2020, 2, 28, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueProblem) as raised:
        parse_file_datetime("2019-02-29 12:00:00", time_optional=False)
    assert raised.value.code == "invalid_datetime"


@pytest.mark.parametrize(
    "text",
    [
        "2018-09-09T10:00:00",
        "2018-9-9 10:00:00",
        "2018-09-09 24:00:00",
        "2018-09-09 23:60:00",
        "2018-13-01 00:00:00",
        "2018-04-31 00:00:00",
        "2018-04-31",
        "0000-01-01 10:00:00",
        "09/09/2018 10:00:00",
        "2018-09-09 10:00:00+01:00",
        "",
        "NULL",
        "now",
    ],
)
def test_invalid_datetimes(text):
    with pytest.raises(ValueProblem) as raised:
        parse_file_datetime(text, time_optional=True)
    assert raised.value.code == "invalid_datetime"


@pytest.mark.parametrize("time_optional", [True, False])
@pytest.mark.parametrize("text", ["2018-09-09 10:00", "2018-09-09 10", " 2018-09-09 10:00 "])
def test_a_time_without_its_seconds_is_incomplete(text, time_optional):
    """The seed: both the date and the time parts must be complete; a line with hours and
    minutes only is not imported (a bare date is midnight only where the column allows it)."""
    with pytest.raises(ValueProblem) as raised:
        parse_file_datetime(text, time_optional=time_optional)
    assert raised.value.code == "incomplete_datetime"
    assert "YYYY-MM-DD HH:MM:SS" in raised.value.message


@pytest.mark.parametrize("text", ["0001-01-01 00:30:00", "0001-01-01"])
def test_first_hour_of_year_one_is_a_value_problem_not_a_crash(text):
    with pytest.raises(ValueProblem):
        parse_file_datetime(text, time_optional=True)


def test_the_import_day_starts_at_midnight_gmt_plus_one():
    assert file_day_start(datetime(2018, 8, 1, 9, 0, tzinfo=UTC)) == datetime(2018, 7, 31, 23, 0, tzinfo=UTC)
    # 23:30 UTC is already the next day in GMT+1
    assert file_day_start(datetime(2018, 8, 1, 23, 30, tzinfo=UTC)) == datetime(2018, 8, 1, 23, 0, tzinfo=UTC)
