"""Routes of paying with points at a point of sale (the points API): a payment and its reversals.

The till's merchant comes from the calling key, as for the instrument POS routes; whether it
accepts points comes from the instrument side's merchants, wired here
(`instruments.merchant_directory`), so that the points capability does not depend on it.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, json_response, responses
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.points import payment_use_cases as payments
from loyalty_engine.points.cardcodes import CARD_CODE_PATTERN
from loyalty_engine.points.payments import (
    PaymentRequest,
    PaymentResult,
    PaymentReversalRequest,
    PaymentReversalResult,
)


@cache
def merchant_directory() -> payments.MerchantDirectory:
    """The instrument side's merchants, loaded on the first payment (off the API's cold path)."""
    from loyalty_engine.instruments.merchant_directory import MerchantDirectory
    from loyalty_engine.instruments.merchant_store import MerchantStore

    config = load(ApiSettings)
    return MerchantDirectory(MerchantStore(client(), config.table_name), config.program_cache_seconds)


CardCode = Annotated[
    str, Path(pattern=CARD_CODE_PATTERN, description="Card code, unique in the loyalty group")
]
PaymentId = Annotated[str, Path(pattern=NATURAL_KEY_PATTERN, description="The payment's payment_id")]


def add_payments_routes(app: APIGatewayRestResolver) -> None:
    @app.post("/v1/members/<card_code>/payments", status_code=201, responses=responses(201), tags=["points"])
    def pay_with_points(
        card_code: CardCode, request: Annotated[PaymentRequest, Body()]
    ) -> Response[PaymentResult]:
        """Pay an amount with the member's NQ points at the key's merchant (a merchant of the
        program's acceptor merchant group), at the program's `payment.rate`; once per payment_id."""
        status, body = payments.pay(
            default_context(), merchant_directory(), caller_of(app), card_code, request
        )
        return json_response(status, body)

    @app.post(
        "/v1/members/<card_code>/payments/<payment_id>/reversals",
        status_code=201,
        responses=responses(201),
        tags=["points"],
    )
    def reverse_points_payment(
        card_code: CardCode, payment_id: PaymentId, request: Annotated[PaymentReversalRequest, Body()]
    ) -> Response[PaymentReversalResult]:
        """Refund (part of) a payment with points: its points come back with the expiry they had;
        never more than the payment; once per reversal_id."""
        status, body = payments.reverse_payment(
            default_context(), merchant_directory(), caller_of(app), card_code, payment_id, request
        )
        return json_response(status, body)
