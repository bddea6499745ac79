"""Reward imports rejected whole, through S3, SQS and the real handler: misnamed files, a folder
made in the S3 console, header problems (named by their line and column), the 200,000-line limit
(split from test_imports_delivery.py)."""

from __future__ import annotations

import pytest

from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import (
    BURN,
    CATALOG_COLUMNS,
    DAY,
    EARN,
    EARN_COLUMNS,
    MASTER,
    VALID,
    catalog,
    lines,
    no_failures,
    reward,
    summary_of,
)
from tests.support.import_state import bucket_keys, snapshot
from tests.support.import_world import PROGRAM
from tests.support.imports import BUCKET, deliver, report, upload


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (f"other_masterreward_{PROGRAM}_{DAY}.csv", "wrong_universe"),
        ("catalog.csv", "invalid_file_name"),
        (f"demo_masterreward_{PROGRAM}_20180231.csv", "invalid_file_name"),
        (f"demo_masterreward_bronze_{DAY}.csv", "unknown_subsection"),
    ],
)
def test_misnamed_files_are_rejected_with_a_report(world, name, code):
    key = upload(world.s3, name, catalog(reward("sneaky")))
    no_failures(deliver(key))

    summary, skipped = report(world.s3, name)
    assert summary["state"] == "rejected"
    assert summary["rejection"]["code"] == code
    assert (summary["lines_read"], summary["applied"]) == (0, 0)
    assert skipped.splitlines() == ["line;reason_code;field;message;raw_line"]
    assert call("api_list_rewards", SHOP, query={}).body["rewards"] == []
    assert bucket_keys(world.s3, "incoming/") == []
    (moved,) = bucket_keys(world.s3, "processed/demo/")
    assert moved == f"processed/demo/{summary['import_id']}/{name}"
    (job,) = call("api_list_imports", ADMIN, query={"file": name}).body["imports"]
    assert (job["state"], job["rejection"]["code"]) == ("rejected", code)


@pytest.mark.parametrize("key", ["incoming/demo/", "incoming/demo/2018-08/"])
def test_a_folder_created_in_the_console_is_not_an_upload(world, key):
    """The S3 console's "Create folder" puts an empty object whose key ends with '/': no file
    name, nothing to apply or report, no import listed."""
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    no_failures(deliver(key))
    assert bucket_keys(world.s3) == [key]
    assert call("api_list_imports", ADMIN, query={}).body["imports"] == []


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        (MASTER, catalog(reward("r")).replace("is_auto_generated", "colour"), "unknown_column"),
        (MASTER, catalog(reward("r")).replace(";is_auto_generated", ";name"), "duplicate_column"),
        (MASTER, lines("external_id;name;monetary", "r;R;0"), "missing_column"),
        (EARN, lines(EARN_COLUMNS + ";c0", f"r;CC0001;A-1;1;;{VALID};x"), "unknown_column"),
        (BURN, lines("card_code;context", "CC0001;x"), "missing_column"),
        (MASTER, "", "empty_file"),
        (MASTER, catalog(reward("r")).encode("utf-16"), "not_utf8"),
        (MASTER, catalog(reward("r"), reward("s")) + 'x;"never closed\n', "unterminated_quote"),
    ],
)
def test_header_and_file_problems_reject_the_whole_file(world, name, content, code):
    world.enrol("CC0001")
    key = upload(world.s3, name, content)
    no_failures(deliver(key))
    summary = summary_of(world, name)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", code)
    assert summary["applied"] == 0
    assert call("api_list_rewards", SHOP, query={}).body["rewards"] == []
    assert snapshot()["attributions"] == {}


def test_separators_ending_every_line_are_no_column_and_the_file_applies(world):
    """A spreadsheet's export may end every line with separators (cells once used): they name
    no column and hold nothing, so the file applies; a value past the last column is a
    `column_count` line."""
    lines = catalog(reward("r"), reward("s")).splitlines()
    content = "\n".join([lines[0] + ";;", lines[1] + ";;", lines[2] + ";x"]) + "\n"
    no_failures(deliver(upload(world.s3, MASTER, content)))
    summary = summary_of(world, MASTER)
    assert (summary["state"], summary["applied"], summary["skipped"]) == ("completed", 1, 1), summary
    assert [r["external_id"] for r in call("api_list_rewards", SHOP, query={}).body["rewards"]] == ["r"]


def test_a_header_with_an_unnamed_column_inside_says_which_column_has_no_name(world):
    """A stray separator inside the header: the rejection names the unnamed column by position,
    not as a duplicate or unknown column ''."""
    header, *rows = catalog(reward("r")).splitlines()
    names = header.split(";")
    content = "\n".join([";".join([*names[:3], "", *names[3:]]), *rows]) + "\n"
    no_failures(deliver(upload(world.s3, MASTER, content)))
    rejection = summary_of(world, MASTER)["rejection"]
    assert rejection["code"] == "unknown_column", rejection
    assert "column 4 of the header has no name" in rejection["message"], rejection
    assert call("api_list_rewards", SHOP, query={}).body["rewards"] == []


def test_a_header_rejection_names_the_headers_line_after_blank_lines(world):
    no_failures(deliver(upload(world.s3, MASTER, "\r\n\r\n" + catalog(reward("r")).replace("name", "nom"))))
    rejection = summary_of(world, MASTER)["rejection"]
    assert (rejection["code"], rejection["line"]) == ("unknown_column", 3), rejection


def test_a_file_over_200000_lines_is_rejected_before_anything_applies(world):
    row = b"r;R;0;1;0;1;day;0;1;5;0\n"
    key = upload(world.s3, MASTER, CATALOG_COLUMNS.encode() + b"\n" + row * 200_001)
    no_failures(deliver(key))
    summary = summary_of(world, MASTER)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", "too_many_lines")
    assert call("api_list_rewards", SHOP, query={}).body["rewards"] == []


@pytest.mark.parametrize(("data_lines", "state"), [(5, "completed"), (6, "rejected")])
def test_line_limit_boundary(world, monkeypatch, data_lines, state):
    monkeypatch.setattr("loyalty_engine.imports.apply.MAX_DATA_LINES", 5)
    import_services().chunk_lines = 2  # the count is whole-file, not per chunk
    key = upload(world.s3, MASTER, catalog(*[reward(f"r{n}") for n in range(data_lines)]) + "\n\n")
    no_failures(deliver(key))
    summary = summary_of(world, MASTER)
    assert summary["state"] == state
    listed = call("api_list_rewards", SHOP, query={}).body["rewards"]
    assert len(listed) == (data_lines if state == "completed" else 0)


def test_a_file_over_the_size_cap_is_rejected_unread(world, monkeypatch):
    # a partner's `aws s3 cp` has no size limit of its own: an importer reading gigabytes would
    # time out on every delivery and hold the group's later files behind it
    monkeypatch.setattr("loyalty_engine.imports.apply.MAX_FILE_BYTES", 100, raising=False)
    read: list[int] = []
    chunks = import_services().objects.chunks
    monkeypatch.setattr(
        import_services().objects, "chunks", lambda *a, **k: (read.append(1), chunks(*a, **k))[1]
    )
    key = upload(world.s3, MASTER, catalog(reward("r1"), reward("r2")) + "\n" * 100)
    no_failures(deliver(key))
    summary = summary_of(world, MASTER)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", "file_too_large"), summary
    assert read == []  # refused on its size, before a byte is read
    assert call("api_list_rewards", SHOP, query={}).body["rewards"] == []
    assert bucket_keys(world.s3, "incoming/") == []


def test_blank_lines_beyond_the_cap_reject_the_file(world, monkeypatch):
    # blank lines are skipped, not counted as data lines: without a cap of their own, a file of
    # nothing but line ends (a few bytes each) holds the importer for as long as it is big
    monkeypatch.setattr("loyalty_engine.imports.files.MAX_BLANK_LINES", 10, raising=False)
    key = upload(world.s3, MASTER, catalog(reward("r1")) + "\n" * 5 + ";;;\n" * 6)
    no_failures(deliver(key))
    summary = summary_of(world, MASTER)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", "too_many_lines"), summary
    assert "blank" in summary["rejection"]["message"]
    assert call("api_list_rewards", SHOP, query={}).body["rewards"] == []


def test_a_million_empty_rows_still_apply(world):
    # a spreadsheet's export of all its rows: a million `;;;` lines around the data
    key = upload(world.s3, MASTER, catalog(reward("r1")) + "\n" + ";;;\n" * 1_000_000)
    no_failures(deliver(key))
    summary = summary_of(world, MASTER)
    assert (summary["state"], summary["applied"]) == ("completed", 1), summary


@pytest.mark.parametrize("name", ["x" * 1000, "é" * 495, "../" * 330 + "a.csv", ".."])
def test_a_long_misnamed_file_gets_its_report_under_keys_s3_takes(world, name):
    # S3 keys hold at most 1,024 bytes: `incoming/demo/<name>` fits, but the report's
    # `reports/demo/<name>/<received>-<id>.report.json` and `processed/demo/<id>/<name>` would not,
    # and S3 refuses them (KeyTooLongError: moto does not check): the name is shortened there
    key = upload(world.s3, name, catalog(reward("r1")))
    assert len(key.encode()) <= 1024
    no_failures(deliver(key))
    keys = bucket_keys(world.s3, "")
    assert all(len(k.encode()) <= 1024 for k in keys), [len(k.encode()) for k in keys]
    assert all(".." not in k.split("/") for k in keys), keys
    (job,) = call("api_list_imports", ADMIN, query={}).body["imports"]
    assert (job["file_name"], job["state"]) == (name, "rejected")
    assert (job["rejection"]["code"]) == "invalid_file_name"
    summary_key = job["report"]["summary_key"]
    assert summary_key in keys and summary_key.startswith("reports/demo/"), summary_key
    assert summary_key.endswith(f"-{job['import_id']}.report.json")
    (moved,) = bucket_keys(world.s3, "processed/demo/")
    assert moved.startswith(f"processed/demo/{job['import_id']}/")
