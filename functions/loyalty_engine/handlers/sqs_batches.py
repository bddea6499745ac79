"""What the queue-fed handlers share: an SQS batch processed record by record (failures
reported as partial batch failures, never raised for the whole batch), and the invocation's
remaining time, so that long work stops and queues its continuation before the timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

DEFAULT_REMAINING_MS = 900_000  # outside Lambda (tests, the local stack without a deadline)
_invocation: dict[str, LambdaContext] = {}


def remaining_ms() -> float:
    context = _invocation.get("context")
    return context.get_remaining_time_in_millis() if context is not None else DEFAULT_REMAINING_MS


def process_batch(
    event: dict[str, Any], context: LambdaContext, record_handler: Callable[[SQSRecord], None]
) -> dict[str, Any]:
    _invocation["context"] = context
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
