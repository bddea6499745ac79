"""`GET /v1/imports` without a file name (issue 16): the key's group's imports, newest received
first, a page at a time with `limit` and an opaque `cursor`, optionally only one state or scope.
Through the real handler on moto; the jobs are stored as the importer stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.imports.jobs import ImportJob, Scope, job_id_for
from loyalty_engine.imports.store import listed_item
from loyalty_engine.kernel.dynamo import to_item
from tests.integration.conftest import ADMIN, OTHER_GROUP
from tests.support.api import Reply, call

PARTNER = Caller(group_id="demo", key_id="01JD0000000000000000000009", scopes=("partner",))
START = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)


def make(n: int, group: str = "demo", *, state: str = "queued", scope: Scope | None = None) -> ImportJob:
    """The n-th file of `group`, received n minutes after START (the microseconds are dropped:
    received times are whole seconds)."""
    name = f"{group}_earnreward_club_202612{10 + n % 10:02d}_{n}.csv"
    job = ImportJob(
        import_id=job_id_for(f"incoming/{group}/{name}", "v1"),
        file_name=name,
        key=f"incoming/{group}/{name}",
        version="v1",
        size=10 + n,
        received_at=START + timedelta(minutes=n, microseconds=n),
    )
    store = default_context().imports
    store.create_job(group, job)
    if state != "queued" or scope is not None:
        job = job.model_copy(update={"state": state, "scope": scope})
        store.save_job(group, job, expected_chunk=0)
    return job


def page(caller: Caller = ADMIN, **query: str) -> Reply:
    return call("api_list_imports", caller, query=query)


def walk(caller: Caller = ADMIN, **query: str) -> list[str]:
    """Every page's import ids, following the cursors; each page at most `limit` long."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        reply = page(caller, **query, **({"cursor": cursor} if cursor else {}))
        assert reply.status == 200, reply.body
        assert len(reply.body["imports"]) <= int(query.get("limit", "10"))
        ids += [job["import_id"] for job in reply.body["imports"]]
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the pages never end")


def test_the_groups_imports_newest_received_first_a_page_at_a_time(table):
    assert page().body == {"imports": [], "next_cursor": None}
    jobs = [make(n) for n in (3, 0, 7, 1, 5, 2, 6, 4)]
    newest_first = [job.import_id for job in sorted(jobs, key=lambda j: j.received_at, reverse=True)]
    first = page(limit="3")
    assert [j["import_id"] for j in first.body["imports"]] == newest_first[:3]
    assert first.body["next_cursor"]
    for limit in ("1", "3", "8", "50"):
        assert walk(limit=limit) == newest_first
    # a listed import is the one `GET /v1/imports/{id}` answers
    one = call("api_get_import", ADMIN, path={"import_id": newest_first[0]})
    assert first.body["imports"][0] == one.body
    # the file-name list is paged the same way, and still finds a file's imports
    name = jobs[0].file_name
    assert [j["import_id"] for j in page(file=name).body["imports"]] == [jobs[0].import_id]


def test_only_one_state_or_scope(table):
    done = [make(n, state="completed", scope=Scope.EARNREWARD) for n in range(0, 12, 2)]
    member = make(1, state="completed", scope=Scope.MEMBER)
    failed = make(3, state="failed", scope=Scope.EARNREWARD)
    queued = [make(n) for n in range(20, 80)]  # more than a page: filtered reads go on past them
    newest = sorted(done, key=lambda j: j.received_at, reverse=True)
    assert walk(state="completed", scope="earnreward", limit="4") == [j.import_id for j in newest]
    assert walk(state="failed") == [failed.import_id]
    assert walk(scope="member") == [member.import_id]
    assert len(walk(state="queued", limit="50")) == len(queued)
    assert walk(state="rejected") == []
    for bad in ({"state": "done"}, {"scope": "points"}):
        reply = page(**bad)
        assert reply.status == 422 and reply.body["code"] == "validation_error", reply.body


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "validation_error"),
        ({"limit": "51"}, "validation_error"),
        ({"limit": "ten"}, "invalid_number"),
        ({"limit": "1.5"}, "invalid_number"),
        ({"cursor": "not a cursor"}, "validation_error"),
        ({"cursor": "QXxub3BlIzE"}, "invalid_cursor"),  # base64 of "A|nope#1": not a position
        ({"cursor": "Rnx4"}, "invalid_cursor"),  # "F|x": the file list's, without a file name
        ({"cursor": "x" * 601}, "validation_error"),
        ({"file": ""}, "validation_error"),
    ],
)
def test_a_bad_limit_or_cursor_is_a_structured_4xx(table, query, code):
    make(0)
    reply = page(**query)
    assert (reply.status, reply.body["code"]) == (422, code), reply.body
    assert reply.body["message"]


def test_a_cursor_of_one_list_is_refused_by_the_other(table):
    jobs = [make(n) for n in range(3)]
    everything = page(limit="1").body["next_cursor"]
    reply = page(file=jobs[0].file_name, cursor=everything)
    assert (reply.status, reply.body["code"]) == (422, "invalid_cursor")


def test_a_partner_key_lists_its_groups_imports(table):
    job = make(0)
    reply = page(PARTNER)
    assert reply.status == 200, reply.body
    assert [j["import_id"] for j in reply.body["imports"]] == [job.import_id]


def test_another_groups_imports_are_never_listed(table):
    ours = [make(n) for n in range(4)]
    theirs = [make(n, "demo-b") for n in range(10, 13)]
    assert sorted(walk(limit="2")) == sorted(j.import_id for j in ours)
    assert sorted(walk(OTHER_GROUP, limit="2")) == sorted(j.import_id for j in theirs)
    # demo's cursor, sent by demo-b, goes on in demo-b's list, never into demo's
    cursor = page(limit="1").body["next_cursor"]
    after = page(OTHER_GROUP, cursor=cursor, limit="50")
    assert after.status == 200 and {j["import_id"] for j in after.body["imports"]} <= {
        j.import_id for j in theirs
    }


def test_a_stray_pointer_is_skipped(table):
    """A crash between the pointer's write and the job's leaves a pointer at a received time the
    job (created by the next delivery) does not have: the job is listed once, at its own time."""
    job = make(1)
    stray = job.model_copy(update={"received_at": job.received_at - timedelta(hours=1)})
    ctx = default_context()
    ctx.imports._client.put_item(TableName=ctx.imports._table, Item=to_item(listed_item("demo", stray)))
    never_created = make(0).model_copy(update={"import_id": "A" * 26})
    ctx.imports._client.put_item(
        TableName=ctx.imports._table, Item=to_item(listed_item("demo", never_created))
    )
    assert walk(limit="1") == [job.import_id, job_id_for("incoming/demo/" + make(0).file_name, "v1")]


@pytest.mark.parametrize("name", ["\U0001f600" * 512, "é" * 300 + "\U0001f600" * 200])
def test_a_file_filter_longer_than_any_s3_key_is_refused(table, name):
    # the filter is a gsi1 key, G#<group>#IMPORTFILE#<name>: DynamoDB refuses a partition key over
    # 2,048 bytes (ValidationException; moto does not check), and no file has a name over 1,024
    # bytes, S3's limit for its whole key: a clear 422, not a 5xx
    reply = call("api_list_imports", ADMIN, query={"file": name})
    assert (reply.status, reply.body["code"]) == (422, "validation_error"), reply.body
    (detail,) = reply.body["details"]
    assert (detail["in"], detail["field"], detail["reason"]) == ("query", "file", "too_long"), detail
    fits = call("api_list_imports", ADMIN, query={"file": "é" * 512})  # 1,024 bytes: may exist
    assert fits.status == 200 and fits.body["imports"] == [], fits.body
