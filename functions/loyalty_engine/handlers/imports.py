"""Import function: S3 notifications (through SQS) of partner reward files, and continuations.

Each message is processed on its own; a message that fails is reported as a batch item
failure so that SQS delivers it again (and, after the queue's receive limit, to its DLQ).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty_engine.handlers.sqs_batches import process_batch, remaining_ms
from loyalty_engine.imports.context import import_services
from loyalty_engine.imports.jobs import ImportJob
from loyalty_engine.imports.messages import handle_message

SERVICE = "loyalty-engine"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(namespace="LoyaltyEngine", service=SERVICE)


def _count(job: ImportJob) -> None:
    """Metrics per ended file: an alarm can watch rejections and skipped lines."""
    if job.state == "rejected":
        metrics.add_metric(name="ImportFilesRejected", unit=MetricUnit.Count, value=1)
        return
    if job.state == "duplicate":
        metrics.add_metric(name="ImportFilesDuplicate", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="ImportFilesCompleted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ImportLinesApplied", unit=MetricUnit.Count, value=job.progress.applied)
    metrics.add_metric(name="ImportLinesSkipped", unit=MetricUnit.Count, value=job.progress.skipped)


def _unknown_group(key: str) -> None:
    metrics.add_metric(name="ImportFilesUnknownGroup", unit=MetricUnit.Count, value=1)


@tracer.capture_method
def _record(record: SQSRecord) -> None:
    try:
        body = record.json_body
    except json.JSONDecodeError:
        logger.error("import message is not JSON; dropped", extra={"message_id": record.message_id})
        metrics.add_metric(name="ImportMessagesUnreadable", unit=MetricUnit.Count, value=1)
        return
    services = import_services()
    services.on_finished = _count
    services.on_unknown_group = _unknown_group
    handle_message(services, body, remaining_ms)
    metrics.add_metric(name="ImportMessages", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, context, _record)
