"""Routes of the group's API keys (admin keys): create, list, read, rotate, revoke.

The group is the calling key's, never one named by the request; another group's key answers
404. Whether a bound merchant exists is asked of the instruments' merchants
(`routes_payments.merchant_directory`, loaded on first use), so access depends on no other
capability.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from pydantic import BeforeValidator, Field

from loyalty_engine.access import key_use_cases as api_keys
from loyalty_engine.access.key_rules import (
    ApiKeyPage,
    ApiKeySecret,
    ApiKeyView,
    CreateKeyRequest,
    RotateKeyRequest,
)
from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, json_response, responses
from loyalty_engine.kernel.idempotency import NATURAL_KEY_PATTERN, key_required
from loyalty_engine.kernel.types import plain_int

KeyId = Annotated[str, Path(pattern=r"^[0-9A-Z]{26}$", description="The key's id (in its token)")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=NATURAL_KEY_PATTERN,
        description="Required: the same request again changes nothing (and shows no secret)",
    ),
]


def _merchant_exists(group: str, merchant_id: str) -> bool:
    from loyalty_engine.handlers.routes_payments import merchant_directory

    return merchant_directory().merchant_groups(group, merchant_id, fresh=True) is not None


def add_keys_routes(app: APIGatewayRestResolver) -> None:
    @app.post("/v1/api-keys", status_code=201, responses=responses(200, 201), tags=["api-keys"])
    def create_api_key(
        request: Annotated[CreateKeyRequest, Body()], idempotency_key: IdempotencyKey = None
    ) -> Response[ApiKeySecret]:
        """Create a key of the caller's group; its token (`api_key`) is shown in this answer only.
        Retrying with the same Idempotency-Key and body answers 200 with the same key and no token."""
        if not idempotency_key:
            raise key_required("Idempotency-Key", "header")
        ctx = default_context()
        status, body = api_keys.create_key(
            ctx.groups, caller_of(app).group_id, request, ctx.clock(), _merchant_exists, idempotency_key
        )
        return json_response(status, body.model_dump(mode="json"))

    @app.get("/v1/api-keys", responses=responses(200), tags=["api-keys"])
    def list_api_keys(
        limit: Annotated[int, Field(ge=1, le=200), BeforeValidator(plain_int), Query()] = 50,
        cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> ApiKeyPage:
        """The group's keys, a page at a time (never a secret nor its hash)."""
        ctx = default_context()
        found, next_cursor = api_keys.list_keys(
            ctx.groups, caller_of(app).group_id, limit, cursor, ctx.clock()
        )
        return ApiKeyPage(keys=found, next_cursor=next_cursor)

    @app.get("/v1/api-keys/<key_id>", responses=responses(200), tags=["api-keys"])
    def get_api_key(key_id: KeyId) -> ApiKeyView:
        ctx = default_context()
        return api_keys.get_key(ctx.groups, caller_of(app).group_id, key_id, ctx.clock())

    @app.post(
        "/v1/api-keys/<key_id>/rotations", status_code=201, responses=responses(200, 201), tags=["api-keys"]
    )
    def rotate_api_key(
        key_id: KeyId, request: Annotated[RotateKeyRequest, Body()], idempotency_key: IdempotencyKey = None
    ) -> Response[ApiKeySecret]:
        """A new secret for the key, shown once; the one before keeps working for `grace_seconds`.
        The calling key rotating itself needs a grace above 0 (409 `grace_required_for_own_key`)."""
        ctx = default_context()
        caller = caller_of(app)
        status, body = api_keys.rotate_key(
            ctx.groups,
            caller.group_id,
            key_id,
            request,
            ctx.clock(),
            idempotency_key,
            calling_key_id=caller.key_id,
        )
        return json_response(status, body.model_dump(mode="json"))

    @app.delete("/v1/api-keys/<key_id>", responses=responses(200), tags=["api-keys"])
    def revoke_api_key(key_id: KeyId) -> ApiKeyView:
        """Revoke the key (idempotent). The authorizer's answers are cached per key for
        AUTHORIZER_CACHE_TTL_S (60 s): a revoked key may keep working that long. A key cannot
        revoke itself (409 `own_key`)."""
        ctx = default_context()
        caller = caller_of(app)
        return api_keys.revoke_key(
            ctx.groups, caller.group_id, key_id, ctx.clock(), calling_key_id=caller.key_id
        )
