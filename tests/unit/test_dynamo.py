"""The data layer's handling of AWS answers that moto does not produce."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from loyalty_engine.kernel.dynamo import deserialize, map_error, refused_request, serialize
from loyalty_engine.kernel.errors import ConcurrentUpdate, Conflict, ServiceUnavailable
from loyalty_engine.kernel.idempotency import fingerprint
from loyalty_engine.points.member_store import MemberStore


def _cancelled(*reasons: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": reason} for reason in reasons],
        },
        "TransactWriteItems",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_cancelled("None", "ThrottlingError"), ServiceUnavailable),
        (_cancelled("ProvisionedThroughputExceeded", "None"), ServiceUnavailable),
        (_cancelled("None", "ValidationError"), Conflict),
        (ClientError({"Error": {"Code": "ThrottlingException"}}, "BatchGetItem"), ServiceUnavailable),
        (
            ClientError({"Error": {"Code": "TransactionConflictException"}}, "TransactWriteItems"),
            ConcurrentUpdate,
        ),
    ],
)
def test_aws_error_codes_become_domain_errors(error, expected):
    mapped = map_error(error)
    assert isinstance(mapped, expected)
    if expected is Conflict:
        assert mapped.code == "item_too_large"


def test_unknown_errors_are_left_to_the_caller():
    assert map_error(ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetItem")) is None


class _AlwaysUnprocessed:
    """An AWS answer under sustained throttling: nothing read, every key unprocessed."""

    def batch_get_item(self, RequestItems):
        return {"Responses": {}, "UnprocessedKeys": RequestItems}


def test_keys_left_unprocessed_are_a_retryable_error_not_a_404(monkeypatch):
    monkeypatch.setattr("loyalty_engine.kernel.retry.time.sleep", lambda _: None)
    store = MemberStore(_AlwaysUnprocessed(), "t")
    with pytest.raises(ServiceUnavailable):
        store.records("demo", "CARD-1", ["ORDER#1"])


def test_attribute_codec_round_trip_keeps_numbers_exact():
    value = {"a": [1, Decimal("0.10"), "x", None, True], "b": {"c": Decimal("12345678901234567890.5")}}
    assert deserialize(serialize(value)) == value
    with pytest.raises(TypeError):
        serialize(0.1)


def test_binary_values_round_trip_and_read_from_a_stream_record_as_bytes():
    assert serialize(b"\x78\x9c\x00") == {"B": b"\x78\x9c\x00"}
    assert deserialize({"B": b"\x78\x9c\x00"}) == b"\x78\x9c\x00"
    # a Lambda DynamoDB stream event carries binary values as base64 text
    assert deserialize({"B": "eJwA"}) == b"\x78\x9c\x00"


def test_fingerprints_ignore_number_spelling():
    assert fingerprint("order", {"amount": Decimal("129.90")}) == fingerprint(
        "order", {"amount": Decimal("129.9")}
    )
    assert fingerprint("order", {"amount": Decimal("129.90")}) != fingerprint(
        "order", {"amount": Decimal("12.99")}
    )


def test_a_request_dynamodb_refuses_is_told_from_a_transient_failure():
    """The importer counts a refused request (it fails the same way on every delivery), and
    leaves a throttled one to SQS's retries."""
    assert refused_request(ClientError({"Error": {"Code": "ValidationException"}}, "BatchWriteItem"))
    assert not refused_request(ClientError({"Error": {"Code": "ThrottlingException"}}, "BatchWriteItem"))
    assert not refused_request(ValueError("ValidationException"))
