"""The DynamoDB client, item (de)serialization and the mapping of AWS errors to domain errors.

Errors are mapped by their error *code*, never by message text.

The client comes from botocore directly and the attribute-value codec is the few lines
below rather than `boto3.dynamodb.types`: importing boto3 pulls in s3transfer and its
dependencies, about 60 ms of a cold start for nothing this table needs.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, DomainError, ServiceUnavailable

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)


# The reads whose answers are items: taken as sent (`_items_as_sent`).
READS = ("BatchGetItem", "GetItem", "Query", "Scan", "TransactGetItems")


@cache
def client() -> Any:
    """One client per container. botocore's `standard` retry mode retries throttling with backoff."""
    import botocore.session
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        # Requests are built by this package's code and covered by its tests; botocore's
        # client-side validation of every request was half of an import's CPU time.
        parameter_validation=False,
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
        max_pool_connections=64,
    )
    dynamodb = botocore.session.get_session().create_client("dynamodb", config=config)
    for operation in READS:
        dynamodb.meta.events.register(f"before-parse.dynamodb.{operation}", _items_as_sent)
    return dynamodb


def _items_as_sent(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """A read's answer (READS) as DynamoDB sent it, not walked through botocore's parser.

    The wire format is already the attribute values `from_item` reads (binary values as base64
    text, which it decodes; keys such as LastEvaluatedKey go back as they came), and parsing
    every attribute of every item by its shape was a fifth of an import's CPU time (BatchGetItem)
    and a sixth of a tier run's (Query). Only a successful answer: errors are parsed as usual."""
    if response_dict.get("status_code") == 200 and response_dict.get("body"):
        customized_response_dict.update(json.loads(response_dict["body"]))
        response_dict["body"] = b"{}"


def serialize(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (no floats: money and points are exact)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def deserialize(attribute: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as Python; whole numbers come back as int."""
    ((kind, value),) = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else number
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "B":  # bytes from botocore; base64 text in a Lambda stream record
        return value if isinstance(value, bytes) else base64.b64decode(value)
    if kind == "L":
        return [deserialize(v) for v in value]
    if kind == "M":
        return {k: deserialize(v) for k, v in value.items()}
    raise TypeError(f"unexpected attribute type {kind}")


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: deserialize(v) for k, v in item.items()}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def refused_request(error: BaseException) -> bool:
    """Whether DynamoDB refused the request itself (`ValidationException`: an item it cannot
    store, an expression it cannot run): sending it again fails the same way."""
    from botocore.exceptions import ClientError  # loaded with the client already

    return isinstance(error, ClientError) and error_code(error) == "ValidationException"


def cancellation_codes(error: ClientError) -> list[str]:
    """Per-item reason codes of a cancelled transaction ("None" where the item was fine)."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


# Reason codes of one item of a cancelled transaction (they differ from whole-request codes).
TRANSIENT_ITEM_CODES = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


def map_error(error: ClientError) -> DomainError | None:
    """The domain error for an AWS error code, or None when the caller must decide (or re-raise)."""
    code = error_code(error)
    if code in TRANSIENT_CODES:
        return ServiceUnavailable("the database is busy; retry with the same idempotency key")
    if code == "TransactionConflictException":
        return ConcurrentUpdate("a concurrent request changed the same data; retry")
    if code == "TransactionCanceledException":
        reasons = set(cancellation_codes(error))
        if "ValidationError" in reasons:
            # in practice: an item over DynamoDB's 400 KB (a member with too many open lots)
            return Conflict("the change would make a stored item too large", code="item_too_large")
        if reasons & TRANSIENT_ITEM_CODES:
            return ServiceUnavailable("the database is busy; retry with the same idempotency key")
    return None
