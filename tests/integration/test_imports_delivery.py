"""Reward imports through S3, SQS and the real handler: deliveries, order, rejections, lines, reports."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest

from loyalty_engine.handlers import imports
from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, OTHER_GROUP, SHOP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_state import bucket_keys, queued_messages, snapshot
from tests.support.import_world import PROGRAM, make_world
from tests.support.imports import (
    BUCKET,
    ImportContext,
    deliver,
    notification,
    report,
    skipped_codes,
    sqs_event,
    upload,
)

GENERATED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")  # 20 Crockford base32 characters


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


DAY = "20180801"
MASTER = f"demo_masterreward_{PROGRAM}_{DAY}.csv"
EARN = f"demo_earnreward_{PROGRAM}_{DAY}.csv"
BURN = f"demo_burnreward_{PROGRAM}_{DAY}.csv"
CATALOG_COLUMNS = (
    "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;validity_interval_type;"
    "forced_validity;is_limited;max_attribution_count;is_auto_generated"
)
EARN_COLUMNS = "reward_id;card_code;attribution_id;quantity;earn_date;validity_start_date;validity_end_date"
BURN_COLUMNS = "card_code;attribution_id;burn_date;context"
VALID = "2018-08-01 00:00:00;2018-09-01 00:00:00"  # the validity window of the earn lines


def lines(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def catalog(*rows: str) -> str:
    return lines(CATALOG_COLUMNS, *rows)


def reward(external_id: str, name: str = "Reward", stock: int | None = 100, auto: bool = False) -> str:
    """A catalog line: limited to `stock` units, or auto-generated and unlimited."""
    if auto:
        return f"{external_id};{name};0;10;0;1;month;0;0;;1"
    return f"{external_id};{name};0;10;0;1;month;0;1;{stock};0"


def earn(*rows: str) -> str:
    return lines(EARN_COLUMNS, *rows)


def burn(*rows: str) -> str:
    return lines(BURN_COLUMNS, *rows)


def attributions(card: str) -> list[dict]:
    reply = call("api_list_member_rewards", SHOP, path={"card_code": card})
    assert reply.status == 200, reply.body
    return reply.body["attributions"]


def get_reward(external_id: str) -> dict:
    reply = call("api_get_reward", SHOP, path={"external_id": external_id})
    assert reply.status == 200, reply.body
    return reply.body


def no_failures(response: dict) -> None:
    assert response == {"batchItemFailures": []}


def summary_of(world, name: str) -> dict:
    return report(world.s3, name)[0]


def counts(world, name: str) -> tuple[int, int, int]:
    summary = summary_of(world, name)
    return summary["lines_read"], summary["applied"], summary["skipped"]


# --- redelivery ------------------------------------------------------------------------


def upload_day(world) -> list[str]:
    world.enrol("CC0001", "CC0002")
    return [
        upload(world.s3, MASTER, catalog(reward("coffee", stock=10), reward("tea", auto=True), "bad;;0;1")),
        upload(
            world.s3,
            EARN,
            earn(
                f"coffee;CC0001;A-1;2;;{VALID}",
                f"tea;CC0002;;1;;{VALID}",
                f"coffee;CC9999;A-2;1;;{VALID}",
            ),
        ),
        upload(world.s3, BURN, burn("CC0001;A-1;;first", "CC0001;A-1;;second", "CC0001;A-1;;third")),
    ]


def assert_day_applied(world) -> None:
    state = snapshot()
    assert sorted(state["catalog"]) == ["coffee", "tea"]
    jobs = state["jobs"]
    assert {name: job["state"] for name, job in jobs.items()} == dict.fromkeys(
        (MASTER, EARN, BURN), "completed"
    )
    assert {name: (job["progress"]["applied"], job["progress"]["skipped"]) for name, job in jobs.items()} == {
        MASTER: (2, 1),
        EARN: (2, 1),
        BURN: (2, 1),
    }
    assert jobs[MASTER]["skipped_lines"] == {4: "column_count"}
    assert jobs[EARN]["skipped_lines"] == {4: "unknown_card"}
    assert jobs[BURN]["skipped_lines"] == {4: "already_burned"}
    (coffee,) = attributions("CC0001")
    assert (coffee["attribution_id"], coffee["quantity"], coffee["burned"]) == ("A-1", 2, 2)
    assert len(set(coffee["codes"])) == 2 and all(GENERATED.match(c) for c in coffee["codes"])
    assert [b["context"] for b in coffee["burns"]] == ["first", "second"]
    (tea,) = attributions("CC0002")
    assert tea["attribution_id"].startswith("AG-") and len(tea["codes"]) == 1
    assert (get_reward("coffee")["attributed"], get_reward("coffee")["remaining"]) == (2, 8)
    assert set(state["attributions"]) == {"A-1", tea["attribution_id"]}
    # nothing waits in incoming/, each file went to processed/ once
    assert bucket_keys(world.s3, "incoming/") == []
    assert [key.rsplit("/", 1)[1] for key in bucket_keys(world.s3, "processed/")] == sorted(
        [BURN, EARN, MASTER]
    )


@pytest.mark.parametrize("times", [2, 5])
def test_the_same_notifications_in_one_batch_apply_once(world, times):
    keys = upload_day(world)
    no_failures(deliver(*[key for key in keys for _ in range(times)]))
    assert_day_applied(world)


def test_the_same_notifications_in_separate_batches_apply_once(world):
    keys = upload_day(world)
    no_failures(deliver(keys[2]))
    first = snapshot()
    first_reports = {name: report(world.s3, name) for name in (MASTER, EARN, BURN)}
    for _ in range(4):
        for key in reversed(keys):
            no_failures(deliver(key))
    assert snapshot() == first
    assert {name: report(world.s3, name) for name in (MASTER, EARN, BURN)} == first_reports
    assert_day_applied(world)


def test_import_status_through_the_api(world):
    keys = upload_day(world)
    no_failures(deliver(*keys, *keys))

    listed = call("api_list_imports", ADMIN, query={"file": EARN})
    assert listed.status == 200, listed.body
    (job,) = listed.body["imports"]
    assert (job["state"], job["file_name"], job["scope"], job["subsection"]) == (
        "completed",
        EARN,
        "earnreward",
        PROGRAM,
    )
    assert job["progress"] == {"lines_total": 3, "lines_read": 3, "applied": 2, "skipped": 1, "unchanged": 0}

    one = call("api_get_import", ADMIN, path={"import_id": job["import_id"]})
    assert one.status == 200, one.body
    assert one.body == job
    stem = (
        f"reports/demo/{EARN}/{job['received_at'][:19].replace('-', '').replace(':', '')}Z-{job['import_id']}"
    )
    assert one.body["report"] == {
        "bucket": BUCKET,
        "summary_key": f"{stem}.report.json",
        "skipped_key": f"{stem}.skipped.csv",
    }
    summary = summary_of(world, EARN)
    assert summary["import_id"] == job["import_id"]
    assert summary["skipped_lines_report"] == one.body["report"]["skipped_key"]

    unknown = call("api_get_import", ADMIN, path={"import_id": "A" * 26})
    assert (unknown.status, unknown.body["code"]) == (404, "import_not_found")
    assert call("api_list_imports", ADMIN, query={"file": "nothing.csv"}).body == {
        "imports": [],
        "next_cursor": None,
    }
    # another loyalty group sees none of it
    hidden = call("api_get_import", OTHER_GROUP, path={"import_id": job["import_id"]})
    assert (hidden.status, hidden.body["code"]) == (404, "import_not_found")
    assert call("api_list_imports", OTHER_GROUP, query={"file": EARN}).body == {
        "imports": [],
        "next_cursor": None,
    }
    # without a file name: the group's imports, each once (though delivered twice), as one reads it
    everything = call("api_list_imports", ADMIN, query={"limit": "50"}).body
    assert sorted(i["file_name"] for i in everything["imports"]) == sorted((MASTER, EARN, BURN))
    assert one.body in everything["imports"] and everything["next_cursor"] is None
    assert call("api_list_imports", OTHER_GROUP, query={}).body == {"imports": [], "next_cursor": None}


def test_the_backfill_lists_imports_received_before_the_list(world, table, monkeypatch, capsys):
    """Jobs stored without their list pointer (before `GET /v1/imports` listed them) are found
    through the bucket's reports and handled files by `loyalty-admin backfill-imports`."""
    from loyalty_engine.cli import main
    from loyalty_engine.kernel import keys

    no_failures(deliver(*upload_day(world)))
    dynamodb, name = table
    listed = call("api_list_imports", ADMIN, query={"limit": "50"}).body["imports"]
    pointers = dynamodb.query(
        TableName=name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.import_list_pk("demo")}},
    )["Items"]
    assert len(pointers) == len(listed) == 3
    for pointer in pointers:
        dynamodb.delete_item(TableName=name, Key={"pk": pointer["pk"], "sk": pointer["sk"]})
    assert call("api_list_imports", ADMIN, query={}).body == {"imports": [], "next_cursor": None}
    monkeypatch.setenv("IMPORT_BUCKET", BUCKET)
    for _ in range(2):  # again: the same items
        assert main(["backfill-imports", "--group", "demo"]) == 0
        assert json.loads(capsys.readouterr().out) == {"group": "demo", "found": 3, "listed": 3}
        assert call("api_list_imports", ADMIN, query={"limit": "50"}).body["imports"] == listed
    assert main(["backfill-imports", "--group", "demo-b"]) == 0  # another group: none of demo's
    assert json.loads(capsys.readouterr().out) == {"group": "demo-b", "found": 0, "listed": 0}


# --- order -----------------------------------------------------------------------------


def test_burn_notification_first_still_applies_master_then_earn_then_burn(world):
    world.enrol("CC0001")
    burn_key = upload(world.s3, BURN, burn("CC0001;W-1;2018-08-01 09:30:00;shop"))
    earn_key = upload(world.s3, EARN, earn(f"welcome;CC0001;W-1;1;;{VALID}"))
    master_key = upload(world.s3, MASTER, catalog(reward("welcome")))

    no_failures(deliver(burn_key))

    assert counts(world, BURN) == (1, 1, 0)
    assert counts(world, EARN) == (1, 1, 0)
    (welcome,) = attributions("CC0001")
    assert welcome["burned"] == 1
    assert welcome["burns"][0]["burned_at"] == "2018-08-01T08:30:00Z"
    before = snapshot()
    no_failures(deliver(earn_key, master_key))  # their own notifications come late: nothing to do
    assert snapshot() == before


def test_a_file_of_the_day_before_is_applied_first(world):
    later = upload(world.s3, f"demo_masterreward_{PROGRAM}_20180802.csv", catalog(reward("r", "Second")))
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20180731.csv", catalog(reward("r", "First")))
    no_failures(deliver(later))
    stored = get_reward("r")
    assert stored["name"] == "Second"
    jobs = snapshot()["jobs"]
    assert stored["updated_by"].startswith(
        f"import:{jobs[f'demo_masterreward_{PROGRAM}_20180802.csv']['import_id']}:"
    )


# --- rejected files --------------------------------------------------------------------


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


def test_a_header_with_unnamed_columns_says_which_column_has_no_name(world):
    """A spreadsheet's export may end every line with separators (cells once used): the
    rejection names the unnamed column by position, not as a duplicate or unknown column ''."""
    content = "\n".join(line + ";;" for line in catalog(reward("r")).splitlines()) + "\n"
    no_failures(deliver(upload(world.s3, MASTER, content)))
    rejection = summary_of(world, MASTER)["rejection"]
    assert rejection["code"] == "unknown_column", rejection
    assert "column 12 of the header has no name" in rejection["message"], rejection
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


# --- out of time -----------------------------------------------------------------------


class Countdown(ImportContext):
    """A Lambda context whose time runs out after `calls` questions about it."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        self.calls -= 1
        return 900_000 if self.calls >= 0 else 1_000


def out_of_time_files(world) -> str:
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(*[reward(f"r{n}", stock=3) for n in range(5)], "broken;x"))
    rows = [f"r{n % 5};CC000{1 + n % 2};A-{n};1;;{VALID}" for n in range(20)]
    return upload(world.s3, EARN, earn(*rows, f"r0;CC0001;A-0;1;;{VALID}", "r1;CC0001;;1;;bad;dates"))


def expect_out_of_time_result(world) -> None:
    state = snapshot()
    assert {name: job["state"] for name, job in state["jobs"].items()} == {
        MASTER: "completed",
        EARN: "completed",
    }
    assert {
        name: (job["progress"]["applied"], job["progress"]["skipped"]) for name, job in state["jobs"].items()
    } == {
        MASTER: (5, 1),
        EARN: (15, 7),
    }
    codes = state["jobs"][EARN]["skipped_lines"]
    assert sorted(codes.values()) == ["duplicate_attribution", "invalid_datetime"] + ["out_of_stock"] * 5
    assert {line for line, code in codes.items() if code == "out_of_stock"} == {17, 18, 19, 20, 21}
    assert len(state["attributions"]) == 15
    for n in range(5):
        assert get_reward(f"r{n}")["remaining"] == 0
    assert state["jobs"][EARN]["reserved_rewards"] == [f"r{n}" for n in range(5)]
    assert all(set(stock) == {"pk", "sk", "type", "taken"} for stock in state["stock"].values())


def test_out_of_time_continues_on_the_queue(world):
    svc = import_services()
    svc.chunk_lines = 4
    key = out_of_time_files(world)
    # time runs out after the catalog and two chunks of the earn file
    no_failures(imports.handler(sqs_event(notification(key)), Countdown(5)))

    running = snapshot()["jobs"][EARN]
    assert running["state"] == "running"
    assert running["chunk"] >= 1 and running["progress"]["lines_read"] == 4 * running["chunk"]
    assert bucket_keys(world.s3, "incoming/") == [key]
    (continuation,) = queued_messages(world.sqs)
    assert continuation == {"drain": {"group": "demo"}}

    # the continuation finishes the job, as one clean run would have
    no_failures(imports.handler(sqs_event(continuation), ImportContext()))
    expect_out_of_time_result(world)
    assert queued_messages(world.sqs) == []
    assert bucket_keys(world.s3, "incoming/") == []


def test_too_little_time_left_applies_nothing_and_continues(world):
    svc = import_services()
    svc.chunk_lines = 4
    key = out_of_time_files(world)
    no_failures(deliver(key, remaining_ms=svc.time_margin_ms - 1))
    state = snapshot()
    assert {name: job["state"] for name, job in state["jobs"].items()} == {MASTER: "running"}
    assert state["jobs"][MASTER]["progress"]["lines_read"] == 0
    assert state["catalog"] == {}
    bodies = queued_messages(world.sqs)
    assert bodies == [{"drain": {"group": "demo"}}]
    for body in bodies:
        no_failures(imports.handler(sqs_event(body), ImportContext()))
    expect_out_of_time_result(world)


def test_one_clean_run_gives_the_out_of_time_result(world):
    import_services().chunk_lines = 4
    no_failures(deliver(out_of_time_files(world)))
    expect_out_of_time_result(world)
    assert queued_messages(world.sqs) == []


# --- masterreward lines ----------------------------------------------------------------

FULL_COLUMNS = (
    "external_id;name;monetary;monetary_type;monetary_value;nqp_value;description;holding_days;"
    "validity_interval_count;validity_interval_type;forced_validity;is_limited;max_attribution_count;"
    "is_auto_generated;image_url;c0;c31"
)


@pytest.fixture
def erasing_world(table):
    """As `world`, with the group's setting `null_erases` on."""
    return make_world(null_erases=True)


def null_erasing_case(world, day: str) -> dict:
    first = lines(FULL_COLUMNS, "gift;Gift;1;value;5.50;100;A gift;0;2;weeks;0;1;10;0;http://img/1;red;blue")
    upload(world.s3, f"demo_masterreward_{PROGRAM}_20180801.csv", first)
    second = lines(
        FULL_COLUMNS,
        'gift;Gift 2;1;value;5.50;100;NULL;0;2;weeks;0;1;10;0;"";NULL;" NULL"',
        "other;Other;0;;;NULL;;0;1;day;0;1;1;0;;;",  # NULL in a mandatory column: skipped
    )
    key = upload(world.s3, f"demo_masterreward_{PROGRAM}_{day}.csv", second)
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, f"demo_masterreward_{PROGRAM}_{day}.csv")[1]) == {
        3: "missing_value"
    }
    return get_reward("gift")


def test_null_is_ignored_when_the_group_does_not_erase(world):
    gift = null_erasing_case(world, "20180802")
    assert gift["name"] == "Gift 2"
    assert gift["description"] == "A gift"  # NULL: kept
    assert gift["image_url"] == "http://img/1"  # "": kept
    assert gift["custom"] == {"c0": "red", "c31": " NULL"}  # " NULL" is text


def test_null_erases_when_the_group_says_so(erasing_world):
    gift = null_erasing_case(erasing_world, "20180802")
    assert gift["name"] == "Gift 2"
    assert gift["description"] is None  # NULL: erased
    assert gift["image_url"] == "http://img/1"  # "" never erases
    assert gift["custom"] == {"c31": " NULL"}


def test_master_values_intervals_validity_upsert_and_custom_columns(world):
    columns = FULL_COLUMNS + ";forced_validity_start;forced_validity_end"
    first = lines(
        columns,
        "a;A;0;;;1;;0;1;day;0;1;1;0;;;;;",
        "b;B;0;;;1;;0;2;Days;0;1;1;0;;;;;",
        "c;C;0;;;1;;0;3;WEEK;0;1;1;0;;;;;",
        "d;D;0;;;1;;0;4;Months;0;1;1;0;;;;;",
        "e;E;0;;;1;;0;5;year;0;1;1;0;;x;y;;",
        "f;F;0;;;1;;0;1;fortnight;0;1;1;0;;;;;",
        "g;G;0;;;1;;0;1;day;1;1;1;0;;;;2018-09-01;2018-10-01 12:30:00",
        "h;H;0;;;1;;0;1;day;1;1;1;0;;;;2018-09-01;",
        "i;I;1;percentage;150;1;;0;1;day;0;1;1;0;;;;;",
        "j;J;1;;;1;;0;1;day;0;1;1;0;;;;;",
    )
    key = upload(world.s3, MASTER, first)
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, MASTER)[1]) == {
        7: "invalid_interval_type",
        9: "forced_validity_incomplete",
        10: "invalid_value",
        11: "monetary_incomplete",
    }
    types = {r: get_reward(r)["validity_interval_type"] for r in "abcde"}
    assert types == {"a": "days", "b": "days", "c": "weeks", "d": "months", "e": "years"}
    g = get_reward("g")
    # date only: 00:00:00 GMT+1 = 23:00 UTC the day before
    assert (g["forced_validity_start"], g["forced_validity_end"]) == (
        "2018-08-31T23:00:00Z",
        "2018-10-01T11:30:00Z",
    )
    e = get_reward("e")
    assert e["custom"] == {"c0": "x", "c31": "y"}
    created = e["created_at"]

    world.at(datetime(2018, 8, 2, 9, 0, tzinfo=UTC))
    update = f"demo_masterreward_{PROGRAM}_20180802.csv"
    upload(world.s3, update, lines(columns, "e;E renamed;0;;;7;;0;5;year;0;1;1;0;;;z;;"))
    no_failures(deliver(f"incoming/demo/{update}"))
    e = get_reward("e")
    assert (e["name"], e["nqp_value"], e["custom"]) == ("E renamed", 7, {"c0": "x", "c31": "z"})
    assert e["created_at"] == created
    assert e["updated_at"] == "2018-08-02T09:00:00Z"
    (job,) = call("api_list_imports", ADMIN, query={"file": update}).body["imports"]
    assert e["updated_by"] == f"import:{job['import_id']}:2"
    assert len(call("api_list_rewards", SHOP, query={}).body["rewards"]) == 6  # a b c d e g


# --- earnreward lines ------------------------------------------------------------------


def test_earn_lines(world):
    world.enrol("CC0001", "CC0002")
    add_program("gold")
    world.enrol("GOLD0001", program="gold")
    upload(world.s3, MASTER, catalog(reward("auto", auto=True), reward("many")))
    name = EARN
    rows = [
        f"auto;CC0001;;2;;{VALID}",  # 2: generated attribution id and codes
        f"auto;CC0001;X-1;1;;{VALID}",  # 3: auto-generated rewards take no attribution_id
        f"many;CC0001;M-1;1;2018-07-31 23:59:59;{VALID}",  # 4: the day before (GMT+1)
        f"many;CC0001;M-2;1;2018-08-01 00:00:00;{VALID}",  # 5: the import day's first second
        f"many;CC0001;M-3;1;2018-08-05 10:00;{VALID}",  # 6: no seconds
        "many;CC0001;M-4;1;;2018-08-01;2018-09-01 00:00:00",  # 7: date only
        f"many;CC0001;M-2;1;;{VALID}",  # 8: same attribution id as line 5
        f"many;GOLD0001;M-5;1;;{VALID}",  # 9: a member of another program
        f"nope;CC0001;M-6;1;;{VALID}",  # 10
        f"many;CC0001;;1;;{VALID}",  # 11: not auto-generated: the id is needed
        f"many;CC0002;M-7;3;;{VALID}",  # 12
    ]
    key = upload(world.s3, name, earn(*rows))
    no_failures(deliver(key))

    summary, skipped = report(world.s3, name)
    assert skipped_codes(skipped) == {
        3: "attribution_id_not_allowed",
        4: "earn_date_in_past",
        6: "incomplete_datetime",
        7: "incomplete_datetime",
        8: "duplicate_attribution",
        9: "card_not_in_program",
        10: "unknown_reward",
        11: "missing_value",
    }
    assert (summary["lines_read"], summary["applied"], summary["skipped"]) == (11, 3, 8)
    owned = {a["attribution_id"]: a for a in attributions("CC0001") + attributions("CC0002")}
    (generated,) = [a for a in owned.values() if a["reward_id"] == "auto"]
    assert generated["attribution_id"].startswith("AG-") and generated["quantity"] == 2
    assert len(set(generated["codes"])) == 2
    assert owned["M-2"]["earned_at"] == "2018-07-31T23:00:00Z"
    assert (owned["M-2"]["valid_from"], owned["M-2"]["valid_until"]) == (
        "2018-07-31T23:00:00Z",
        "2018-08-31T23:00:00Z",
    )
    assert (len(owned["M-2"]["codes"]), owned["M-2"]["nqp_spent"]) == (1, 0)
    assert len(set(owned["M-7"]["codes"] + owned["M-2"]["codes"])) == 4
    assert all(GENERATED.match(code) for code in owned["M-7"]["codes"] + generated["codes"])
    assert (get_reward("many")["attributed"], get_reward("many")["remaining"]) == (4, 96)
    assert attributions("GOLD0001") == []

    # an attribution id already used by an earlier file
    again = f"demo_earnreward_{PROGRAM}_20180802.csv"
    upload(world.s3, again, earn(f"many;CC0002;M-2;1;;{VALID}", f"many;CC0002;M-9;1;;{VALID}"))
    no_failures(deliver(f"incoming/demo/{again}"))
    assert skipped_codes(report(world.s3, again)[1]) == {2: "duplicate_attribution"}
    assert owned["M-2"] == {a["attribution_id"]: a for a in attributions("CC0001")}["M-2"]


def add_program(program_id: str) -> None:
    from tests.support.import_world import SIMPLE_PROGRAM

    body = SIMPLE_PROGRAM | {"name": f"Program {program_id}"}
    reply = call("api_put_program", ADMIN, path={"program_id": program_id}, body=body)
    assert reply.status == 201, reply.body


def test_a_limited_reward_gives_exactly_its_stock(world):
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(reward("few", stock=3)))
    key = upload(world.s3, EARN, earn(*[f"few;CC000{1 + n % 2};F-{n};1;;{VALID}" for n in range(5)]))
    no_failures(deliver(key))
    summary, skipped = report(world.s3, EARN)
    assert skipped_codes(skipped) == {5: "out_of_stock", 6: "out_of_stock"}
    assert (summary["applied"], summary["skipped"]) == (3, 2)
    owned = attributions("CC0001") + attributions("CC0002")
    assert sorted((a["attribution_id"], len(a["codes"])) for a in owned) == [
        ("F-0", 1),
        ("F-1", 1),
        ("F-2", 1),
    ]
    assert len({a["codes"][0] for a in owned}) == 3
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 0)


def test_a_limited_reward_stops_at_its_stock_once_units_were_taken(world):
    """As above, once the reward's stock counter exists (the first unit taken by an earlier file)."""
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(reward("few", stock=3)))
    no_failures(deliver(upload(world.s3, EARN, earn(f"few;CC0001;F-0;1;;{VALID}"))))
    later = f"demo_earnreward_{PROGRAM}_20180802.csv"
    key = upload(world.s3, later, earn(*[f"few;CC000{1 + n % 2};F-{n};1;;{VALID}" for n in range(1, 5)]))
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, later)[1]) == {4: "out_of_stock", 5: "out_of_stock"}
    owned = attributions("CC0001") + attributions("CC0002")
    assert sorted((a["attribution_id"], len(a["codes"])) for a in owned) == [
        ("F-0", 1),
        ("F-1", 1),
        ("F-2", 1),
    ]
    assert len({a["codes"][0] for a in owned}) == 3
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 0)


def test_units_a_line_could_not_use_stay_in_stock(world):
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("few", stock=4)))
    no_failures(deliver(upload(world.s3, EARN, earn(f"few;CC0001;F-0;1;;{VALID}"))))  # the counter exists
    later = f"demo_earnreward_{PROGRAM}_20180802.csv"
    key = upload(world.s3, later, earn(f"few;CC0001;F-1;2;;{VALID}", f"few;CC0001;F-2;2;;{VALID}"))
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, later)[1]) == {3: "out_of_stock"}
    assert sum(a["quantity"] for a in attributions("CC0001")) == 3
    few = get_reward("few")
    assert (few["attributed"], few["remaining"]) == (3, 1)


def test_an_unlimited_reward_made_limited_caps_the_total_attributed(world):
    """Units attributed while a reward was auto-generated and unlimited count against the limit
    it is given later: 4 attributed, then limited to 3, and nothing more is granted."""
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("u", auto=True)))
    rows = [f"u;CC0001;;1;;{VALID}" for _ in range(4)]
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    assert summary_of(world, EARN)["applied"] == 4
    unlimited = get_reward("u")
    assert (unlimited["attributed"], unlimited["remaining"]) == (4, None)

    day2 = f"demo_masterreward_{PROGRAM}_20180802.csv"
    no_failures(deliver(upload(world.s3, day2, catalog("u;Reward;0;10;0;1;month;0;1;3;1"))))
    assert summary_of(world, day2)["applied"] == 1
    limited = get_reward("u")
    assert (limited["attributed"], limited["remaining"]) == (4, 0)

    earn2 = f"demo_earnreward_{PROGRAM}_20180802.csv"
    no_failures(deliver(upload(world.s3, earn2, earn(*rows))))
    summary, skipped = report(world.s3, earn2)
    assert (summary["applied"], summary["skipped"]) == (0, 4)
    assert skipped_codes(skipped) == dict.fromkeys(range(2, 6), "out_of_stock")
    assert len(attributions("CC0001")) == 4
    final = get_reward("u")
    assert (final["attributed"], final["remaining"]) == (4, 0)


def test_an_unlimited_reward_counts_every_unit_once_over_chunks(world, monkeypatch):
    """One reservation per chunk counts an unlimited reward's units: 2-line chunks, quantities
    adding up to 7, attributed 7 (and the job's markers are removed when it ends)."""
    monkeypatch.setattr(import_services(), "chunk_lines", 2)
    world.enrol("CC0001", "CC0002")
    upload(world.s3, MASTER, catalog(reward("u", auto=True)))
    rows = [f"u;CC000{1 + n % 2};;{quantity};;{VALID}" for n, quantity in enumerate((1, 2, 1, 3))]
    no_failures(deliver(upload(world.s3, EARN, earn(*rows))))
    assert summary_of(world, EARN)["applied"] == 4
    assert sum(a["quantity"] for a in attributions("CC0001") + attributions("CC0002")) == 7
    assert (get_reward("u")["attributed"], get_reward("u")["remaining"]) == (7, None)
    (stock,) = snapshot()["stock"].values()
    assert stock["taken"] == 7 and not [name for name in stock if name[:3] in ("rc_", "pc_")]


def test_a_year_one_date_skips_the_line(world):
    world.enrol("CC0001")
    upload(world.s3, MASTER, catalog(reward("r")))
    key = upload(
        world.s3,
        EARN,
        earn("r;CC0001;Y-1;1;;0001-01-01 00:00:00;2018-09-01 00:00:00", f"r;CC0001;Y-2;1;;{VALID}"),
    )
    no_failures(deliver(key))
    assert skipped_codes(report(world.s3, EARN)[1]) == {2: "invalid_datetime"}


# --- reports ---------------------------------------------------------------------------


def test_report_cells_are_spreadsheet_safe_and_counts_add_up(world):
    rows = [
        '=HYPERLINK("http://evil");x',  # 2: starts with =
        "@SUM(A1);x",  # 3: starts with @
        "+1;x",  # 4
        "-1;x",  # 5
        "ok;Name;=1+1;10;0;1;month;0;1;5;0",  # 6: a bad flag holding a formula
        "\t=cmd;N;0;10;0;1;month;0;1;5;0",  # 7: tab then formula, otherwise valid: the id is odd but fine
        reward("fine"),  # 8
        "minus;-5;0;-10;0;1;month;0;1;5;0",  # 9: a negative integer
    ]
    key = upload(world.s3, MASTER, catalog(*rows))
    no_failures(deliver(key))

    summary, skipped = report(world.s3, MASTER)
    assert summary["lines_read"] == summary["applied"] + summary["skipped"] == len(rows)
    table = list(csv.reader(io.StringIO(skipped), delimiter=";"))
    assert table[0] == ["line", "reason_code", "field", "message", "raw_line"]
    by_line = {int(row[0]): row for row in table[1:]}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 9]
    assert len(by_line) == summary["skipped"]
    assert by_line[2][4] == "'" + rows[0]
    assert by_line[3][4] == "'" + rows[1]
    assert by_line[4][4] == "'" + rows[2]
    assert by_line[5][4] == "'" + rows[3]
    assert by_line[6][4] == rows[4]  # not a formula: "ok;..." (one quoted cell)
    assert "=1+1" in by_line[6][3]
    assert by_line[9][1] == "invalid_integer"
    for row in table:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    # every skipped line is there, none twice, in line order
    assert [int(row[0]) for row in table[1:]] == sorted(by_line)


def test_a_report_is_written_for_a_file_with_nothing_skipped(world):
    key = upload(world.s3, MASTER, catalog(reward("fine")))
    no_failures(deliver(key))
    summary, skipped = report(world.s3, MASTER)
    assert (summary["state"], summary["lines_read"], summary["applied"], summary["skipped"]) == (
        "completed",
        1,
        1,
        0,
    )
    assert skipped == "line;reason_code;field;message;raw_line\r\n"
