"""Reward imports through S3, SQS and the real handler: deliveries, order, rejections, lines, reports."""

from __future__ import annotations

import json

import pytest

from loyalty_engine.handlers import imports
from loyalty_engine.imports.context import import_services
from tests.integration.conftest import ADMIN, OTHER_GROUP
from tests.support.api import call
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import (
    BURN,
    EARN,
    GENERATED,
    MASTER,
    VALID,
    attributions,
    burn,
    catalog,
    counts,
    earn,
    get_reward,
    no_failures,
    reward,
    summary_of,
    upload_day,
)
from tests.support.import_state import bucket_keys, queued_messages, snapshot
from tests.support.import_world import PROGRAM
from tests.support.imports import (
    BUCKET,
    Countdown,
    ImportContext,
    deliver,
    notification,
    report,
    sqs_event,
    upload,
)


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


# --- redelivery ------------------------------------------------------------------------


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
        "attributions_key": f"{stem}.attributions.csv",
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


# --- out of time -----------------------------------------------------------------------


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
