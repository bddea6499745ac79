"""Rewards through the API for the reward tests: the sample reward, buying, burning, and what a
member has left."""

from __future__ import annotations

import json
import re
from typing import Any

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers import api
from tests.integration.conftest import ADMIN, CARD, SHOP
from tests.support.api import LambdaContext, Reply, call, load_event

OTHER_CARD = "2990000000024"
GENERATED = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")  # 20 Crockford base32 characters


def coffee(**overrides: Any) -> dict[str, Any]:
    """The sample reward (events/api_put_reward.json): 100 NQ points, 500 units."""
    return {**json.loads(load_event("api_put_reward")["body"]), **overrides}


def put_reward(external_id: str = "coffee", **overrides: Any) -> Reply:
    return call("api_put_reward", ADMIN, path={"external_id": external_id}, body=coffee(**overrides))


def buy(key: str | None = "buy-1", card: str = CARD, caller: Caller = SHOP, **body: Any) -> Reply:
    return call(
        "api_buy_reward",
        caller,
        path={"card_code": card},
        body={"reward_id": "coffee", "quantity": 1, "context": "web", **body},
        headers={"Idempotency-Key": key} if key is not None else None,
    )


def burn(
    attribution_id: str, key: str = "use-1", card: str = CARD, caller: Caller = SHOP, **body: Any
) -> Reply:
    return call(
        "api_burn_reward",
        caller,
        path={"card_code": card, "attribution_id": attribution_id},
        body={"quantity": 1, "store_id": "store-12", **body},
        headers={"Idempotency-Key": key},
    )


def without_idempotency_key(event_name: str, path: dict[str, str], body: dict[str, Any]) -> Reply:
    """The request with no Idempotency-Key header at all."""
    event = load_event(event_name)
    event["requestContext"]["authorizer"] = {"principalId": f"{SHOP.group_id}/{SHOP.key_id}"} | (
        authorizer_context(SHOP)
    )
    event["pathParameters"] = {**event["pathParameters"], **path}
    concrete = event["resource"]
    for name, value in event["pathParameters"].items():
        concrete = concrete.replace("{" + name + "}", value)
    event["path"] = concrete
    event["headers"] = {k: v for k, v in event["headers"].items() if k.lower() != "idempotency-key"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["body"] = json.dumps(body)
    response = api.handler(event, LambdaContext())
    return Reply(response["statusCode"], json.loads(response["body"]), response.get("headers") or {})


def nq_available(card: str = CARD) -> int:
    reply = call("api_get_member", SHOP, path={"card_code": card})
    assert reply.status == 200, reply.body
    return reply.body["balances"]["nq"]["available"]
