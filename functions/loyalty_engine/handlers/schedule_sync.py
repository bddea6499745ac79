"""ScheduleSync: brings every program's schedules in line with the table
(`tiers.schedule_use_cases.sync_all_schedules`).

- **After every deploy**, CloudFormation invokes it as the stack's custom resource
  `Custom::ProgramSchedulesSync` (infra/schedule_sync.py): on Create and Update it syncs, on
  Delete it does nothing (the schedule group goes with the stack). It always answers SUCCESS:
  a schedule that could not be synced must not roll back a deploy (nor fail the rollback, which
  would invoke it again), so a failure is an error of this function after its answer, which the
  function's error alarm reports and whose event lands in its dead-letter queue (Lambda does
  not retry it: a retry would answer CloudFormation twice). `loyalty-admin sync-schedules`
  then repairs what is left.
- **Any other event** (an operator's `aws lambda invoke`, the local stack when it starts):
  syncs and returns the report; an incomplete sync is an error.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from aws_lambda_powertools import Logger

from loyalty_engine.tiers.schedule_use_cases import (
    ScheduleSyncReport,
    schedule_sync_services,
    sync_all_schedules,
)
from loyalty_engine.wiring import PROGRAM_SCHEDULES

SERVICE = "loyalty-engine"
logger = Logger(service=SERVICE)

PHYSICAL_RESOURCE_ID = "program-schedules-sync"  # one per stack, never replaced
RESPONSE_ATTEMPTS = 3
RESPONSE_TIMEOUT_S = 10


class SyncIncomplete(RuntimeError):
    """Some schedules could not be synced: the report says which."""


def _sync() -> ScheduleSyncReport:
    services = schedule_sync_services(
        retry_attempts=PROGRAM_SCHEDULES.retry_attempts, max_event_age_s=PROGRAM_SCHEDULES.max_event_age_s
    )
    report = sync_all_schedules(services)
    logger.info("program schedules synced", extra={"report": report.model_dump(mode="json")})
    return report


def is_custom_resource_event(event: Any) -> bool:
    return isinstance(event, dict) and "RequestType" in event and "ResponseURL" in event


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_custom_resource_event(event):
        return _custom_resource(event, context)
    report = _sync()
    if report.failed:
        raise SyncIncomplete(report.summary() + ": " + "; ".join(report.failed))
    return report.model_dump(mode="json")


def _custom_resource(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report: ScheduleSyncReport | None = None
    failure: Exception | None = None
    data: dict[str, Any] = {}
    reason = "nothing to do on Delete: the schedule group goes with the stack"
    if event["RequestType"] in ("Create", "Update"):
        try:
            report = _sync()
            data = {"Programs": report.programs, "Deleted": len(report.deleted), "Failed": len(report.failed)}
            reason = report.summary()
        except Exception as error:  # a failed sync must not fail the deploy: answered, then raised
            logger.exception("the program schedules could not be synced")
            failure = error
            reason = f"the sync failed ({type(error).__name__}); see the function's log"
    log_stream = getattr(context, "log_stream_name", "")
    send_response(
        event["ResponseURL"],
        {
            "Status": "SUCCESS",
            "Reason": f"{reason} (log stream {log_stream})"[:1000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data,
        },
    )
    if failure is not None:
        raise failure
    if report is not None and report.failed:
        raise SyncIncomplete(report.summary() + ": " + "; ".join(report.failed))
    return data


def send_response(url: str, body: dict[str, Any]) -> None:
    """PUT the custom resource's answer to CloudFormation's pre-signed S3 URL (a few attempts)."""
    payload = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's https URL
        url, data=payload, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(payload))}
    )
    for attempt in range(1, RESPONSE_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=RESPONSE_TIMEOUT_S) as answer:  # noqa: S310
                answer.read()
            return
        except (urllib.error.URLError, TimeoutError) as error:
            logger.warning("answering CloudFormation failed", extra={"attempt": attempt, "error": str(error)})
            if attempt == RESPONSE_ATTEMPTS:
                raise
            time.sleep(attempt)
