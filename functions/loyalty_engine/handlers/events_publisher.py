"""The domain events' publisher: the table's stream (NEW_AND_OLD_IMAGES) in, the stage's bus out.

Thin: the whole batch's events are put first (10 per PutEvents, refused entries retried), then
powertools' BatchProcessor reports the records whose events could not be mapped or put as
partial batch failures. Lambda delivers a failed record (and those after it in its shard) again,
bisecting the batch, up to the mapping's retry limit, then sends it to the on-failure queue.
A record delivered again makes events with the same ids: consumers dedupe on `event_id`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty_engine.events.bus_store import EventBus, client
from loyalty_engine.events.use_cases import publish
from loyalty_engine.kernel.settings import PublisherSettings, load

logger = Logger()


class PublishFailed(RuntimeError):
    """The record's events are not all on the bus: Lambda delivers the record again."""


@cache
def bus() -> EventBus:
    return EventBus(client(), load(PublisherSettings).event_bus_name)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = publish(event.get("Records", []), bus())
    if outcome.failed:
        logger.warning("records not published", extra={"failed": outcome.failed})

    def record_handler(record: DynamoDBRecord) -> None:
        why = outcome.failed.get(str(record.dynamodb.sequence_number if record.dynamodb else ""))
        if why is not None:
            raise PublishFailed(why)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
