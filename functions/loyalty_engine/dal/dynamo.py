"""The DynamoDB client, item (de)serialization and the mapping of AWS errors to domain errors.

Errors are mapped by their error *code*, never by message text.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from loyalty_engine.domain.errors import ConcurrentUpdate, DomainError, ServiceUnavailable

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

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


@cache
def client() -> Any:
    """One client per container. boto3's `standard` retry mode retries throttling with backoff."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
        max_pool_connections=64,
    )
    return boto3.session.Session().client("dynamodb", config=config)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return {_plain(v) for v in value}
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_codes(error: ClientError) -> list[str]:
    """Per-item reason codes of a cancelled transaction ("None" where the item was fine)."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "None")) for reason in reasons]


def map_error(error: ClientError) -> DomainError | None:
    """The domain error for an AWS error code, or None when the caller must decide (or re-raise)."""
    code = error_code(error)
    if code in TRANSIENT_CODES:
        return ServiceUnavailable("the database is busy; retry with the same idempotency key")
    if code == "TransactionConflictException":
        return ConcurrentUpdate("a concurrent request changed the same data; retry")
    if code == "TransactionCanceledException" and any(
        c in TRANSIENT_CODES or c == "TransactionConflict" for c in cancellation_codes(error)
    ):
        return ConcurrentUpdate("a concurrent request changed the same data; retry")
    return None
