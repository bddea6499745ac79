"""The schedule sync through the ScheduleSync function: the stack's custom resource answering
CloudFormation's pre-signed URL, and the function invoked directly."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from loyalty_engine.handlers import schedule_sync as sync_handler
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.tiers import schedule_store
from tests.support.schedule_sync import DEMO, GROUP_NAME, put_program, recreate_group, schedules, stray

# ---------------------------------------------------------------- the ScheduleSync function


class _Answers(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cloudformation() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A stand-in for CloudFormation's pre-signed response URL: (url, the answers PUT there)."""
    handler = type("Answers", (_Answers,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/answer?signed", handler.received
    server.shutdown()
    server.server_close()


class Context:
    function_name = "ScheduleSync"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ScheduleSync"
    aws_request_id = "sync-request"
    log_stream_name = "2027/01/01/[$LATEST]abc"


def custom_resource_event(url: str, request_type: str) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/LoyaltyEngine-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "ScheduleSyncD7286581",
        "ResourceType": "Custom::ProgramSchedulesSync",
        "ResourceProperties": {"ServiceToken": Context.invoked_function_arn, "DeployId": "20270101T000000Z"},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = "program-schedules-sync"
    return event


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_on_create_and_update_the_function_syncs_and_answers_success(
    scheduler, now, cloudformation, request_type
):
    url, answers = cloudformation
    put_program(DEMO, "club")
    expected = schedules(scheduler)
    recreate_group(scheduler)

    data = sync_handler.handler(custom_resource_event(url, request_type), Context())

    assert set(schedules(scheduler)) == set(expected)
    (answer,) = answers
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "program-schedules-sync"
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/LoyaltyEngine-dev/1",
        "req-1",
        "ScheduleSyncD7286581",
    )
    assert answer["Data"] == data == {"Programs": 1, "Deleted": 0, "Failed": 0}
    assert answer["Reason"].startswith(f"1 programs, 4 schedules in {GROUP_NAME}, 0 deleted")
    assert "[$LATEST]abc" in answer["Reason"]


def test_on_delete_the_function_answers_without_syncing(scheduler, now, cloudformation):
    url, answers = cloudformation
    stray(scheduler, "not-a-program-schedule", "text")
    sync_handler.handler(custom_resource_event(url, "Delete"), Context())
    (answer,) = answers
    assert answer["Status"] == "SUCCESS" and answer["Data"] == {}
    assert set(schedules(scheduler)) == {"not-a-program-schedule"}


def test_a_failed_sync_answers_success_then_fails_the_invocation(scheduler, now, cloudformation, monkeypatch):
    """The deploy (or its rollback) goes on; the function's error alarm and dead-letter queue say it."""
    url, answers = cloudformation
    put_program(DEMO, "club")

    def failing(self, group, program, moment):
        raise ServiceUnavailable("Scheduler update_schedule failed: ThrottlingException")

    monkeypatch.setattr(schedule_store.ScheduleStore, "sync_program", failing)
    with pytest.raises(sync_handler.SyncIncomplete, match="demo/club"):
        sync_handler.handler(custom_resource_event(url, "Update"), Context())
    (answer,) = answers
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Programs": 0, "Deleted": 0, "Failed": 1}

    def crashing(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(default_context().programs), "all_program_keys", crashing)
    with pytest.raises(RuntimeError, match="a bug"):
        sync_handler.handler(custom_resource_event(url, "Update"), Context())
    assert answers[-1]["Status"] == "SUCCESS"
    assert "the sync failed (RuntimeError)" in answers[-1]["Reason"]


def test_invoked_directly_the_function_returns_the_report(scheduler, now):
    put_program(DEMO, "club")
    recreate_group(scheduler)
    report = sync_handler.handler({}, Context())
    assert (report["programs"], report["schedules"], report["failed"]) == (1, 4, [])
