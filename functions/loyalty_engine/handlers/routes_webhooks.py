"""Routes of the group's webhook subscriptions (admin keys): create, list, read, replace, delete,
rotate the signing secret, read the delivery log, redeliver one event.

The group is the calling key's; another group's subscription answers 404 `webhook_not_found`.
The signing secret is in the create and rotation answers only.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from pydantic import BeforeValidator, Field

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, json_response, responses
from loyalty_engine.handlers.routes_keys import IdempotencyKey  # required; the answer shows a secret once
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.errors import ServiceUnavailable
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN
from loyalty_engine.kernel.settings import ApiSettings, load
from loyalty_engine.kernel.types import plain_int
from loyalty_engine.webhooks import use_cases as webhooks
from loyalty_engine.webhooks.messages import DeliveryMessage
from loyalty_engine.webhooks.models import (
    SUBSCRIPTION_ID_PATTERN,
    DeliveryPage,
    RedeliveryAccepted,
    RotateSecretRequest,
    SubscriptionPage,
    SubscriptionSecret,
    SubscriptionSpec,
    SubscriptionView,
)
from loyalty_engine.webhooks.queue import DeliveryQueue
from loyalty_engine.webhooks.store import WebhookStore

RedeliveryKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=NATURAL_KEY_PATTERN,
        description="Required: the same key again queues nothing",
    ),
]
SubscriptionId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN, description="The webhook's id")]
EventId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$", description="The event's id")]
Limit = Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()]
Cursor = Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]+$")]


@cache
def webhook_store() -> WebhookStore:
    return WebhookStore(client(), load(ApiSettings).table_name)


@cache
def _policy() -> webhooks.UrlPolicy:
    config = load(ApiSettings)
    return webhooks.UrlPolicy(
        allow_http=config.webhooks_allow_http, allow_private=config.webhooks_allow_private
    )


def _sender() -> DeliveryQueue:
    url = load(ApiSettings).webhook_queue_url
    if not url:
        raise ServiceUnavailable(
            "webhook deliveries are not set up on this stage", code="webhooks_unavailable"
        )
    from loyalty_engine.kernel.objects import MessageQueue, sqs_client

    return DeliveryQueue(MessageQueue(sqs_client(), url))


def add_webhooks_routes(app: APIGatewayRestResolver) -> None:
    def group() -> str:
        return caller_of(app).group_id

    @app.post("/v1/webhooks", status_code=201, responses=responses(200, 201), tags=["webhooks"])
    def create_webhook(
        spec: Annotated[SubscriptionSpec, Body()], idempotency_key: IdempotencyKey = None
    ) -> Response[SubscriptionSecret]:
        """Subscribe an endpoint to event kinds; its signing `secret` is in this answer only.
        Retrying with the same Idempotency-Key and body answers 200 with no secret."""
        status, body = webhooks.create(
            webhook_store(), group(), spec, default_context().clock(), _policy(), idempotency_key
        )
        return json_response(status, body.model_dump(mode="json"))

    @app.get("/v1/webhooks", responses=responses(200), tags=["webhooks"])
    def list_webhooks(limit: Limit = 50, cursor: Cursor = None) -> SubscriptionPage:
        """The group's webhooks, a page at a time (never a secret)."""
        found, next_cursor = webhooks.page(webhook_store(), group(), limit, cursor, default_context().clock())
        return SubscriptionPage(webhooks=found, next_cursor=next_cursor)

    @app.get("/v1/webhooks/<subscription_id>", responses=responses(200), tags=["webhooks"])
    def get_webhook(subscription_id: SubscriptionId) -> SubscriptionView:
        return webhooks.get(webhook_store(), group(), subscription_id, default_context().clock())

    @app.put("/v1/webhooks/<subscription_id>", responses=responses(200), tags=["webhooks"])
    def replace_webhook(
        subscription_id: SubscriptionId, spec: Annotated[SubscriptionSpec, Body()]
    ) -> SubscriptionView:
        """Replace the URL, kinds, description and `enabled` (the secret is kept)."""
        return webhooks.replace(
            webhook_store(), group(), subscription_id, spec, default_context().clock(), _policy()
        )

    @app.delete("/v1/webhooks/<subscription_id>", responses=responses(200), tags=["webhooks"])
    def delete_webhook(subscription_id: SubscriptionId) -> SubscriptionView:
        """Delete the webhook: nothing more is sent to it."""
        return webhooks.delete(webhook_store(), group(), subscription_id, default_context().clock())

    @app.post(
        "/v1/webhooks/<subscription_id>/secret-rotations",
        status_code=201,
        responses=responses(200, 201),
        tags=["webhooks"],
    )
    def rotate_webhook_secret(
        subscription_id: SubscriptionId,
        request: Annotated[RotateSecretRequest, Body()],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SubscriptionSecret]:
        """A new signing secret, shown once; deliveries are also signed with the one before for
        `grace_seconds`."""
        status, body = webhooks.rotate_secret(
            webhook_store(), group(), subscription_id, request, default_context().clock(), idempotency_key
        )
        return json_response(status, body.model_dump(mode="json"))

    @app.get("/v1/webhooks/<subscription_id>/deliveries", responses=responses(200), tags=["webhooks"])
    def list_webhook_deliveries(
        subscription_id: SubscriptionId, limit: Limit = 50, cursor: Cursor = None
    ) -> DeliveryPage:
        """The delivery attempts' log, newest first: status or error, latency, the answer's start."""
        found, next_cursor = webhooks.deliveries(webhook_store(), group(), subscription_id, limit, cursor)
        return DeliveryPage(deliveries=found, next_cursor=next_cursor)

    @app.post(
        "/v1/webhooks/<subscription_id>/deliveries/<event_id>/redeliveries",
        status_code=202,
        responses=responses(202),
        tags=["webhooks"],
    )
    def redeliver_webhook_event(
        subscription_id: SubscriptionId, event_id: EventId, idempotency_key: RedeliveryKey = None
    ) -> Response[RedeliveryAccepted]:
        """Send an event again (one the webhook was sent, while it is kept), with fresh retries."""
        accepted = webhooks.redeliver(
            webhook_store(),
            _LazySender(),
            group(),
            subscription_id,
            event_id,
            default_context().clock(),
            idempotency_key,
            # to the microsecond, as the dispatcher's (the clock keeps whole seconds): the retry
            # window runs from this instant
            sent_at=time.time(),
        )
        return json_response(202, accepted.model_dump(mode="json"))


class _LazySender:
    """The queue, looked up only when a redelivery is queued (503 on a stage without one)."""

    def send(self, messages: list[DeliveryMessage]) -> None:
        _sender().send(messages)
