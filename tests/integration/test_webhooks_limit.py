"""A group has at most MAX_SUBSCRIPTIONS webhooks, counted in the transaction of every create
and delete: the limit holds when creates come all at once, and a delete makes room again."""

from __future__ import annotations

import json
from typing import Any

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.webhooks.models import MAX_SUBSCRIPTIONS, subscription_id_for
from tests.integration.conftest import ADMIN
from tests.support.api import LambdaContext, Reply, call, lambda_container, load_event
from tests.support.concurrency import all_at_once


def create(n: int, **kwargs: Any) -> Reply:
    headers = {**load_event("api_create_webhook")["headers"], "Idempotency-Key": f"limit-{n}"}
    return call("api_create_webhook", ADMIN, headers=headers, **kwargs)


def listed() -> list[str]:
    reply = call("api_list_webhooks", ADMIN, query={"limit": "200"})
    assert reply.status == 200, reply.body
    return [hook["subscription_id"] for hook in reply.body["webhooks"]]


def test_the_limit_refuses_one_more_and_a_delete_makes_room(clock) -> None:
    for n in range(MAX_SUBSCRIPTIONS):
        assert create(n).status == 201
    refused = create(MAX_SUBSCRIPTIONS)
    assert (refused.status, refused.body["code"]) == (409, "too_many_webhooks")
    assert len(listed()) == MAX_SUBSCRIPTIONS  # the refused create stored nothing
    assert create(0).status == 200  # a retry of one that exists is answered, full or not
    gone = subscription_id_for("demo", "limit-3")
    assert call("api_delete_webhook", ADMIN, path={"subscription_id": gone}).status == 200
    assert call("api_delete_webhook", ADMIN, path={"subscription_id": gone}).status == 404
    assert create(MAX_SUBSCRIPTIONS).status == 201
    assert (create(MAX_SUBSCRIPTIONS + 1).status, len(listed())) == (409, MAX_SUBSCRIPTIONS)


def _create_in(handler: Any, n: int) -> Reply:
    event = load_event("api_create_webhook")
    event["headers"]["Idempotency-Key"] = f"rush-{n}"
    event["multiValueHeaders"]["Idempotency-Key"] = [f"rush-{n}"]
    event["requestContext"]["authorizer"] = {"principalId": f"demo/{ADMIN.key_id}"} | authorizer_context(
        ADMIN
    )
    response = handler(event, LambdaContext())
    return Reply(response["statusCode"], json.loads(response["body"]), response.get("headers") or {})


def test_creates_all_at_once_never_pass_the_limit(moto_server) -> None:
    extra = 5
    handlers = [lambda_container() for _ in range(MAX_SUBSCRIPTIONS + extra)]
    replies = all_at_once([lambda h=h, n=n: _create_in(h, n) for n, h in enumerate(handlers)])
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [201] * MAX_SUBSCRIPTIONS + [409] * extra, [r.body for r in replies if r.status != 201]
    assert {reply.body["code"] for reply in replies if reply.status == 409} == {"too_many_webhooks"}
    assert len(listed()) == MAX_SUBSCRIPTIONS
