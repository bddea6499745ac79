"""Scheduled jobs: `start` is the target of the programs' EventBridge Scheduler schedules,
`work` consumes the job queue (one member shard per message).

A schedule's input is `{"group", "program_id", "job", "scheduled_at"}`, where Scheduler
fills `scheduled_at` with the occurrence's time. An invalid input is logged and counted,
not retried (it would fail the same way every time).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from loyalty_engine.handlers.sqs_batches import process_batch, remaining_ms
from loyalty_engine.tiers.context import job_services
from loyalty_engine.tiers.jobs import JobRequest, RunSummary, ShardMessage
from loyalty_engine.tiers.run_use_cases import start_run, work_shard

SERVICE = "loyalty-engine"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(namespace="LoyaltyEngine", service=SERVICE)


def _finished(summary: RunSummary) -> None:
    """Metrics once per completed run; `BalanceDrift` has an alarm."""
    metrics.add_metric(name="JobRunsCompleted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="JobMembersChanged", unit=MetricUnit.Count, value=summary.changed)
    if summary.job == "reconcile":
        metrics.add_metric(name="BalanceDrift", unit=MetricUnit.Count, value=summary.drift)
    logger.info("run completed", extra={"run": summary.model_dump(mode="json")})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def start(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = JobRequest.model_validate(event)
    except ValidationError as error:
        logger.error("invalid schedule input; not retried", extra={"errors": error.errors(include_url=False)})
        metrics.add_metric(name="JobInputsInvalid", unit=MetricUnit.Count, value=1)
        return {"state": "invalid"}
    logger.append_keys(group=request.group, program_id=request.program_id, run=request.run_id)
    services = job_services()
    services.on_finished = _finished
    summary = start_run(services, request)
    return summary.model_dump(mode="json")


@tracer.capture_method
def _record(record: SQSRecord) -> None:
    try:
        message = ShardMessage.model_validate(json.loads(record.body))
    except (json.JSONDecodeError, ValidationError):
        logger.error("job message is unreadable; dropped", extra={"message_id": record.message_id})
        metrics.add_metric(name="JobMessagesUnreadable", unit=MetricUnit.Count, value=1)
        return
    logger.append_keys(
        group=message.group, program_id=message.program_id, run=message.run_id, shard=message.shard
    )
    services = job_services()
    services.on_finished = _finished
    work_shard(services, message, remaining_ms)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def work(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, context, _record)
