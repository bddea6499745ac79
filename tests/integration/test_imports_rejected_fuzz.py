"""A file rejected in the first pass applies nothing, wherever its problem sits (moto, real handler)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from loyalty_engine.imports.context import import_services
from tests.support.aws import fresh_caches, moto_table
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_state import bucket_keys, snapshot
from tests.support.import_world import PROGRAM, make_world
from tests.support.imports import deliver, report, upload

HEADER = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count"
)
MAX_LINES = 12  # the line limit, made small for the test


def row(n: int) -> str:
    return f"new{n};New {n};0;10;0;1;month;0;1;5"


@st.composite
def rejected_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """Valid lines that would all apply, and one problem that rejects the whole file."""
    problem = draw(
        st.sampled_from(
            [
                "not_utf8",
                "invalid_character",
                "unterminated_quote",
                "too_many_lines",
                "unknown_column",
                "missing_column",
                "duplicate_column",
            ]
        )
    )
    count = draw(
        st.integers(MAX_LINES + 1, MAX_LINES + 8)
        if problem == "too_many_lines"
        else st.integers(1, MAX_LINES)
    )
    lines = [HEADER] + [row(n) for n in range(count)]
    at = draw(st.integers(1, count))  # a data line
    if problem == "unknown_column":
        lines = [HEADER + ";colour"] + [line + ";red" for line in lines[1:]]
    elif problem == "missing_column":  # the mandatory nqp_value (4th) is gone, from every line
        lines = [";".join(line.split(";")[:3] + line.split(";")[4:]) for line in lines]
    elif problem == "duplicate_column":
        lines = [HEADER + ";name"] + [line + ";Again" for line in lines[1:]]
    elif problem == "unterminated_quote":
        lines[at] = lines[at].replace(";New", ';"New', 1)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = (newline.join(lines) + newline).encode()
    if problem in ("not_utf8", "invalid_character"):
        start = data.index(row(at - 1).encode())
        offset = start + draw(st.integers(0, len(row(at - 1))))
        data = data[:offset] + (b"\xff" if problem == "not_utf8" else b"\x00") + data[offset:]
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, problem


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def test_a_file_rejected_in_the_first_pass_applies_nothing(monkeypatch):
    monkeypatch.setattr("loyalty_engine.imports.apply.MAX_DATA_LINES", MAX_LINES)
    with moto_table():
        fresh_caches()
        world = make_world()
        base = upload(
            world.s3, f"demo_masterreward_{PROGRAM}_20180801.csv", f"{HEADER}\nbase;Base;0;10;0;1;day;0;1;5\n"
        )
        assert deliver(base) == {"batchItemFailures": []}
        catalog = snapshot()["catalog"]
        assert list(catalog) == ["base"]
        days = itertools.count(1)

        @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(rejected_files(), st.integers(1, 5))
        def example(file: tuple[bytes, str], chunk_lines: int) -> None:
            data, problem = file
            note(repr(data))
            import_services().chunk_lines = chunk_lines
            day = date(2018, 8, 1) + timedelta(days=next(days))
            name = f"demo_masterreward_{PROGRAM}_{day:%Y%m%d}.csv"
            key = upload(world.s3, name, data)
            assert deliver(key) == {"batchItemFailures": []}
            summary, skipped = report(world.s3, name)
            assert summary["state"] == "rejected"
            assert summary["rejection"]["code"] == problem
            assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (0, 0, 0)
            assert skipped.count("\n") == 1  # the header only
            assert snapshot()["catalog"] == catalog
            assert bucket_keys(world.s3, "incoming/") == []

        example()
    fresh_caches()
