"""Pre-issue batches in the background: one queue message per batch; a batch that runs short of
time checkpoints and queues its own continuation (see instruments.series_use_cases.run_batch)."""

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from loyalty_engine.handlers.rest import SERVICE
from loyalty_engine.handlers.sqs_batches import process_batch, remaining_ms
from loyalty_engine.instruments.context import instrument_services
from loyalty_engine.instruments.series_use_cases import batch_message, run_batch
from loyalty_engine.kernel.model import DeferredModel

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])
metrics = Metrics(namespace="LoyaltyEngine", service=SERVICE)


class BatchMessage(DeferredModel):
    group: str
    series_id: str
    batch_id: str


@tracer.capture_method
def _record(record: SQSRecord) -> None:
    try:
        message = BatchMessage.model_validate(json.loads(record.body))
    except (json.JSONDecodeError, ValidationError):
        logger.error("batch message is unreadable; dropped", extra={"message_id": record.message_id})
        metrics.add_metric(name="BatchMessagesUnreadable", unit=MetricUnit.Count, value=1)
        return
    logger.append_keys(group=message.group, series_id=message.series_id, batch_id=message.batch_id)
    svc = instrument_services()
    batch = run_batch(svc, message.group, message.series_id, message.batch_id, remaining_ms)
    if batch is None:
        logger.error("batch not found; dropped")
        return
    if batch.status == "completed":
        metrics.add_metric(name="InstrumentBatchesCompleted", unit=MetricUnit.Count, value=1)
        logger.info("batch completed", extra={"issued": batch.issued})
        return
    if batch.status == "failed":
        metrics.add_metric(name="InstrumentBatchesFailed", unit=MetricUnit.Count, value=1)
        logger.error("batch failed", extra={"issued": batch.issued, "failure": batch.failure})
        return
    assert svc.batch_queue is not None, "the batch issuer sends its continuations to its own queue"
    svc.batch_queue.send(batch_message(message.group, batch))
    logger.info("batch continues in a new invocation", extra={"issued": batch.issued})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_batch(event, context, _record)
