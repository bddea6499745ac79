"""Files as partners write them (spreadsheet exports, other separators, old or far dates): what
the importer does with them, through S3, SQS and the real handler."""

from __future__ import annotations

import pytest

from loyalty_engine.handlers import imports
from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, SHOP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import (
    EARN,
    MASTER,
    VALID,
    attributions,
    catalog,
    earn,
    no_failures,
    reward,
)
from tests.support.import_state import queued_messages
from tests.support.import_world import PROGRAM
from tests.support.imports import (
    Countdown,
    ImportContext,
    deliver,
    notification,
    report,
    skipped_codes,
    sqs_event,
    upload,
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def _job(name: str) -> dict:
    listed = call("api_list_imports", ADMIN, query={"file": name})
    assert listed.status == 200, listed.body
    return listed.body["imports"][0]


# --- empty rows ----------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_lines", [1, 2, 4999])
def test_empty_rows_of_a_spreadsheet_export_are_ignored_like_blank_lines(world, monkeypatch, chunk_lines):
    """`;;;;` rows (a spreadsheet's trailing empty rows) and whitespace-only lines are not
    lines of data: not read, not skipped, and the other lines keep their numbers, whatever the
    chunks (each resumes from the checkpoint of the one before)."""
    monkeypatch.setattr(import_services(), "chunk_lines", chunk_lines)
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("r")))
    content = (
        earn(
            ";;;;;;",  # 2: an empty row in the middle
            f"r;CC0001;A-1;1;;{VALID}",  # 3
            "   ",  # 4: whitespace only
            f"r;CC0001;A-1;1;;{VALID}",  # 5: a real problem keeps its line number
            '"";"";;;;;',  # 6: empty quoted cells
            " ; ;\t;;;;",  # 7: blanks between separators
            f"r;CC0001;A-2;1;;{VALID}",  # 8
        )
        + ";;;;;;\r\n;;;\n\n;;;;;;;;\n"
    )  # trailing empty rows, of any width
    key = upload(world.s3, EARN, content)
    no_failures(deliver(key))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {5: "duplicate_attribution"}
    assert (summary["state"], summary["lines_read"], summary["applied"], summary["skipped"]) == (
        "completed",
        3,
        2,
        1,
    )
    progress = _job(EARN)["progress"]
    assert progress["lines_total"] == progress["lines_read"] == 3
    assert sorted(a["attribution_id"] for a in attributions("CC0001")) == ["A-1", "A-2"]


@pytest.mark.parametrize("calls", [1, 2, 3])
def test_empty_rows_at_a_checkpoint_keep_the_line_numbers_of_a_resumed_import(world, monkeypatch, calls):
    """Out of time after a chunk, the import resumes from its checkpoint on the queue: the empty
    rows after it are skipped there too, and the lines keep their numbers."""
    world.enrol("CC0001")
    no_failures(deliver(upload(world.s3, MASTER, catalog(reward("r")))))
    monkeypatch.setattr(import_services(), "chunk_lines", 1)
    content = (
        earn(
            f"r;CC0001;A-1;1;;{VALID}",
            ";;;;;;",
            "",
            f"r;CC0001;A-1;1;;{VALID}",
            " ",
            f"r;CC0001;A-2;1;;{VALID}",
        )
        + ";;;\n"
    )
    key = upload(world.s3, EARN, content)
    no_failures(imports.handler(sqs_event(notification(key)), Countdown(calls)))
    resumed = 0
    for _ in range(10):
        bodies = queued_messages(world.sqs)
        if not bodies:
            break
        for body in bodies:
            resumed += 1
            no_failures(imports.handler(sqs_event(body), ImportContext()))
    assert resumed >= 1  # the time ran out: the import went back to the queue
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {5: "duplicate_attribution"}
    assert (summary["state"], summary["lines_read"], summary["applied"], summary["skipped"]) == (
        "completed",
        3,
        2,
        1,
    )


# --- other separators --------------------------------------------------------------------------


@pytest.mark.parametrize(("separator", "named"), [("\t", "tab"), ("|", "'|'")])
def test_a_file_in_another_separator_is_rejected_with_a_hint(world, separator, named):
    """Still `unknown_column` (nothing applied), and the message says what to change."""
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("r")))
    key = upload(world.s3, EARN, earn(f"r;CC0001;A-1;1;;{VALID}").replace(";", separator))
    no_failures(deliver(key))
    summary, _ = report(world.s3, EARN)
    assert (summary["state"], summary["rejection"]["code"], summary["applied"]) == (
        "rejected",
        "unknown_column",
        0,
    )
    assert f"the header looks {named}-separated: files use ';'" in summary["rejection"]["message"]
    assert attributions("CC0001") == []


def test_a_file_with_one_unknown_column_gets_no_separator_hint(world):
    key = upload(world.s3, EARN, earn().replace("context", "x").replace("quantity", "qty"))
    no_failures(deliver(key))
    summary, _ = report(world.s3, EARN)
    assert summary["rejection"]["code"] == "unknown_column"
    assert "separated" not in summary["rejection"]["message"]


# --- implausible subscription dates --------------------------------------------------------------

MEMBERS = f"demo_member_{PROGRAM}_20180801.csv"


def test_a_member_line_with_an_implausible_subscription_date_is_skipped(world):
    """Before 1900, or more than a day after the import's start (09:00 UTC, 10:00 GMT+1)."""
    rows = [
        "CARD0001;;0001-01-01 01:00:00",  # 2
        "CARD0002;;9999-12-31 23:59:59",  # 3
        "CARD0003;;1899-12-31 23:59:59",  # 4: 22:59:59 UTC, before 1900
        "CARD0004;;1900-01-01 01:00:00",  # 5: 1900-01-01 00:00 UTC
        "CARD0005;;2018-08-02 10:00:00",  # 6: a day ahead, exactly
        "CARD0006;;2018-08-02 10:00:01",  # 7
        "CARD0007;;2018-08-02",  # 8: tomorrow's midnight, a bare date
    ]
    key = upload(world.s3, MEMBERS, "\n".join(("card_code;customer_ref;subscribed_at", *rows)) + "\n")
    no_failures(deliver(key))
    summary, skipped = report(world.s3, MEMBERS)
    out = "subscribed_at_out_of_range"
    assert skipped_codes(skipped) == {2: out, 3: out, 4: out, 7: out}
    assert "subscribed_at" in skipped and summary["applied"] == 3
    for card, status in (("CARD0001", 404), ("CARD0004", 200), ("CARD0005", 200), ("CARD0006", 404)):
        assert call("api_get_member", SHOP, path={"card_code": card}).status == status, card


@pytest.mark.parametrize(
    ("subscribed_at", "status"),
    [
        ("0001-01-01T00:00:00Z", 422),
        ("1899-12-31T23:59:59Z", 422),
        ("1900-01-01T00:00:00Z", 201),
        ("2018-08-02T09:00:00Z", 201),  # a day after the request, exactly
        ("2018-08-02T09:00:01Z", 422),
        ("9999-12-31T23:59:59Z", 422),
    ],
)
def test_the_api_refuses_an_implausible_subscription_date(world, subscribed_at, status):
    body = {"card_code": "CARD0001", "subscribed_at": subscribed_at}
    reply = call("api_enrol_member", SHOP, path={"program_id": PROGRAM}, body=body)
    assert reply.status == status, reply.body
    if status == 422:
        assert reply.body["code"] == "subscribed_at_out_of_range"
        assert reply.body["details"][0]["field"] == "subscribed_at"
        assert call("api_get_member", SHOP, path={"card_code": "CARD0001"}).status == 404


# --- encodings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_file_is_rejected_as_not_utf8_saying_it_is_utf16(world, encoding):
    """Excel's "Unicode Text" is UTF-16 with a BOM: the same rejection, with the cause named."""
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("r")))
    content = earn(f"r;CC0001;A-1;1;;{VALID}")
    data = content.encode(encoding) if encoding == "utf-16" else b"\xfe\xff" + content.encode(encoding)
    no_failures(deliver(upload(world.s3, EARN, data)))
    summary, _ = report(world.s3, EARN)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", "not_utf8")
    assert "UTF-16" in summary["rejection"]["message"]
    assert attributions("CC0001") == []


# --- two files joined --------------------------------------------------------------------------------


def test_a_header_line_repeated_inside_the_file_is_skipped_as_repeated_header(world):
    """Two exports joined (`cat a.csv b.csv`): the second header, BOM and all, is reported as
    what it is instead of as a bad value of its first checked column; both halves apply."""
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("r")))
    first = earn(f"r;CC0001;A-1;1;;{VALID}").replace("\n", "\r\n")
    second = "\ufeff" + earn(f"r;CC0001;A-2;1;;{VALID}").upper().replace("R;CC0001;A-2", "r;CC0001;A-2")
    no_failures(deliver(upload(world.s3, EARN, (first + second).encode())))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {3: "repeated_header"}
    assert (summary["applied"], summary["skipped"]) == (2, 1)


def test_a_header_with_spaces_before_its_quotes_is_rejected_with_a_hint(world):
    """`"reward_id" ; "card_code"`: after a space a quote is text (CSV), so the columns are
    unknown; the rejection (unchanged) says why."""
    header = '"reward_id" ; "card_code" ; "attribution_id";validity_start_date;validity_end_date'
    no_failures(deliver(upload(world.s3, EARN, f"{header}\nr;CC0001;A-1;{VALID}\n")))
    summary, _ = report(world.s3, EARN)
    assert (summary["state"], summary["rejection"]["code"]) == ("rejected", "unknown_column")
    assert "a quote after a space is read as text" in summary["rejection"]["message"]
