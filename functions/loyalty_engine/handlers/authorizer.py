"""API Gateway REQUEST authorizer: resolves `Authorization: Bearer <key>` to a loyalty group."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.quota_use_cases import usage_key_for
from loyalty_engine.access.store import GroupStore
from loyalty_engine.access.use_cases import authorize_use
from loyalty_engine.kernel.dynamo import client
from loyalty_engine.kernel.errors import Unauthorized
from loyalty_engine.kernel.settings import AuthorizerSettings, load
from loyalty_engine.kernel.timeutil import utcnow

logger = Logger(service="loyalty-engine")
tracer = Tracer(service="loyalty-engine", patch_modules=["botocore"])  # only what the function calls
clock = utcnow  # what "now" is for expiry and rotation grace (tests replace it)


@cache
def _keys() -> GroupStore:
    return GroupStore(client(), load(AuthorizerSettings).table_name)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    try:
        token = request.headers.get("authorization")
    except (KeyError, TypeError, ValueError, AttributeError):
        token = None  # headers missing or not an object (never from API Gateway): no key, refused
    try:
        caller, use = authorize_use(_keys(), token, clock())
    except Unauthorized as refusal:
        logger.info("refused", extra={"reason": refusal.message})
        raise Exception("Unauthorized") from None  # API Gateway answers 401 on exactly this message
    if use is not None:
        try:
            _keys().record_key_use(use)
        except Exception:
            logger.warning("key_use_not_recorded", exc_info=True)
    # The usage plan the request counts against: the caller's group's (docs/quotas.md).
    usage_key, shared = usage_key_for(_keys(), caller.group_id, load(AuthorizerSettings).default_usage_key)
    if shared:  # a group never given its own key: it shares the default key's bucket with all such
        logger.warning(
            "shared_usage_key",
            extra={"group": caller.group_id, "fix": "loyalty-admin quotas sync --group <group>"},
        )
    arn = request.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=f"{caller.group_id}/{caller.key_id}",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=authorizer_context(caller),
        usage_identifier_key=usage_key,
    )
    # The whole API is allowed: results are cached per key, and each route checks scopes itself.
    policy.allow_all_routes()
    logger.append_keys(group=caller.group_id, key_id=caller.key_id)
    logger.info("authorized")
    return policy.asdict()
