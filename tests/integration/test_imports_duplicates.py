"""Re-uploads under one name: every upload keeps its own report; the same bytes again apply
nothing and say which import they repeat; a corrected file (other bytes) applies."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ADMIN
from tests.support.api import call
from tests.support.events import EventCapture
from tests.support.fast_clients import shared_botocore_loader
from tests.support.import_files import (
    EARN,
    MASTER,
    VALID,
    attributions,
    catalog,
    earn,
    get_reward,
    no_failures,
    reward,
)
from tests.support.import_state import bucket_keys, snapshot
from tests.support.imports import BUCKET, deliver, report, report_stems, upload


@pytest.fixture(autouse=True, scope="module")
def _fast_clients():
    with shared_botocore_loader():
        yield


def _versioned(world) -> None:
    world.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _jobs(name: str) -> list[dict]:
    reply = call("api_list_imports", ADMIN, query={"file": name})
    assert reply.status == 200, reply.body
    return reply.body["imports"]


def _report_links(import_id: str) -> dict:
    reply = call("api_get_import_report", ADMIN, path={"import_id": import_id})
    assert reply.status == 200, reply.body
    return reply.body


def _granted(world) -> None:
    world.enrol("CC0001", "CC0002")
    no_failures(deliver(upload(world.s3, MASTER, catalog(reward("coffee", stock=10)))))


def _applied_once(world) -> tuple[str, str, dict]:
    """An earnreward file of two lines uploaded to a versioned bucket and applied: its key, its
    bytes and its job."""
    _versioned(world)
    _granted(world)
    content = earn(f"coffee;CC0001;A-1;1;;{VALID}", f"coffee;CC0002;A-2;1;;{VALID}")
    key = upload(world.s3, EARN, content)
    no_failures(deliver(key))
    (first,) = _jobs(EARN)
    return key, content, first


def test_the_same_bytes_uploaded_again_apply_nothing_and_name_the_import_they_repeat(world):
    key, content, first = _applied_once(world)
    assert (first["state"], first["progress"]["applied"]) == ("completed", 2)
    before = snapshot()

    upload(world.s3, EARN, content)  # a new version of the key, the same bytes
    no_failures(deliver(key, key))  # delivered twice, as SQS may

    jobs = {job["import_id"]: job for job in _jobs(EARN)}
    assert len(jobs) == 2
    second = next(job for job in jobs.values() if job["import_id"] != first["import_id"])
    assert second["state"] == "duplicate"
    assert second["duplicate_of"] == first["import_id"]
    assert second["content_sha256"] == first["content_sha256"] is not None
    assert second["progress"]["applied"] == second["progress"]["skipped"] == 0
    # Nothing changed but the new job itself.
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "jobs"} == {k: v for k, v in before.items() if k != "jobs"}
    assert get_reward("coffee")["remaining"] == 8
    assert len(attributions("CC0001")) == 1

    # Both reports are readable, in S3 and through the API; neither erased the other.
    assert len(report_stems(world.s3, EARN)) == 2
    summaries = [report(world.s3, EARN, index=i)[0] for i in (0, 1)]
    assert {s["import_id"]: s["state"] for s in summaries} == {
        first["import_id"]: "completed",
        second["import_id"]: "duplicate",
    }
    assert next(s for s in summaries if s["state"] == "duplicate")["duplicate_of"] == first["import_id"]
    for job in (first, second):
        links = _report_links(job["import_id"])
        assert links["state"] == job["state"]
        assert job["import_id"] in links["summary_url"]
    # Both uploads left incoming/ (the duplicate too: it is handled).
    assert world.s3.list_object_versions(Bucket=BUCKET, Prefix="incoming/").get("Versions", []) == []
    assert len(bucket_keys(world.s3, f"processed/demo/{second['import_id']}/")) == 1


def test_the_same_bytes_again_publish_one_import_event_naming_the_import_they_repeat(table, world):
    bus = EventCapture(table[1])
    key, content, first = _applied_once(world)
    (completed,) = bus.details("import.completed")[-1:]
    assert (completed["import_id"], completed["counts"]["applied"]) == (first["import_id"], 2)
    seen = len(bus.details())
    before = snapshot()

    upload(world.s3, EARN, content)  # a new version, the same bytes
    no_failures(deliver(key, key))  # delivered twice, as SQS may

    new = bus.details()[seen:]
    (rejected,) = new  # one event, and no points, reward or member event: nothing applied
    second = next(job for job in _jobs(EARN) if job["import_id"] != first["import_id"])
    assert rejected["kind"] == "import.rejected"
    assert (rejected["import_id"], rejected["state"], rejected["duplicate_of"]) == (
        second["import_id"],
        "duplicate",
        first["import_id"],
    )
    assert (rejected["file_name"], rejected["counts"]["applied"]) == (EARN, 0)
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "jobs"} == {k: v for k, v in before.items() if k != "jobs"}
    assert get_reward("coffee")["remaining"] == 8


def test_a_corrected_file_with_other_bytes_applies(world):
    _versioned(world)
    _granted(world)
    key = upload(world.s3, EARN, earn(f"coffee;CC0001;A-1;1;;{VALID}", "coffee;CC0002;A-2;1;;BAD"))
    no_failures(deliver(key))
    (first,) = _jobs(EARN)
    assert (first["progress"]["applied"], first["progress"]["skipped"]) == (1, 1)

    corrected = earn(f"coffee;CC0001;A-1;1;;{VALID}", f"coffee;CC0002;A-2;1;;{VALID}")
    no_failures(deliver(upload(world.s3, EARN, corrected)))

    jobs = _jobs(EARN)
    assert len(jobs) == 2
    second = next(job for job in jobs if job["import_id"] != first["import_id"])
    assert second["state"] == "completed"
    assert second["duplicate_of"] is None
    assert second["content_sha256"] != first["content_sha256"]
    assert [a["attribution_id"] for a in attributions("CC0002")] == ["A-2"]
    assert len(report_stems(world.s3, EARN)) == 2


def test_the_same_bytes_again_in_an_unversioned_bucket_apply_nothing(world):
    """Without versions an upload is its key and ETag: the same bytes again find the earlier
    (completed) job, apply nothing and leave incoming/; the earlier report stays."""
    _granted(world)
    content = earn(f"coffee;CC0001;A-1;1;;{VALID}")
    key = upload(world.s3, EARN, content)
    no_failures(deliver(key, key))
    before = snapshot()
    (stem,) = report_stems(world.s3, EARN)

    no_failures(deliver(upload(world.s3, EARN, content)))

    assert snapshot() == before
    assert [job["state"] for job in _jobs(EARN)] == ["completed"]
    assert report_stems(world.s3, EARN) == [stem]
    assert bucket_keys(world.s3, "incoming/") == []
    assert get_reward("coffee")["remaining"] == 9


def test_the_same_bytes_under_another_name_are_another_file(world):
    _versioned(world)
    _granted(world)
    content = earn(f"coffee;CC0001;A-1;1;;{VALID}")
    no_failures(deliver(upload(world.s3, EARN, content)))
    other = EARN.replace("20180801", "20180802")
    no_failures(deliver(upload(world.s3, other, content)))
    (job,) = _jobs(other)
    assert job["state"] == "completed"  # applied (its line is skipped: the attribution exists)
