"""Concurrent requests on one member, through the real API handler, against a moto server.

The in-process moto mock is not thread-safe, so these tests start moto's threaded server and
point the DynamoDB client at it. Each thread plays one Lambda container: its own copy of the
API module (resolver, routes, middlewares), all sharing the use cases' context and its client.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from loyalty_engine.access.caller import authorizer_context
from loyalty_engine.access.models import Caller
from loyalty_engine.handlers.api_context import default_context
from tests.integration.conftest import ADMIN, CARD, SHOP, order_body
from tests.support.api import Handler, LambdaContext, Reply, lambda_container, load_event
from tests.support.aws import create_table, fresh_caches
from tests.support.clock import FakeClock
from tests.support.ledger import assert_running_balances


class SerializedApp:
    """Run the moto server's requests one at a time.

    DynamoDB applies each request atomically; moto's server does not (a TransactWriteItems that
    fails restores a copy of the whole table taken before it started, undoing whatever other
    threads wrote meanwhile). The clients' read-decide-write loops still race freely.
    """

    def __init__(self, app: Any):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            return list(self.app(environ, start_response))


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    server._server.app = SerializedApp(server._server.app)  # type: ignore[union-attr]
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    fresh_caches()
    try:
        create_table(boto3.client("dynamodb", endpoint_url=endpoint), os.environ["TABLE_NAME"])
        yield endpoint
    finally:
        # The server's backends live in this process: leave nothing behind for other tests.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
        server.stop()
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        fresh_caches()


def invoke(
    handler: Handler,
    event_name: str,
    caller: Caller,
    *,
    body: Any = ...,
    query: dict[str, str] | None = None,
) -> Reply:
    """As tests.support.api.call, with the handler of one container."""
    event = load_event(event_name)
    event["requestContext"]["authorizer"] = {"principalId": f"{caller.group_id}/{caller.key_id}"} | (
        authorizer_context(caller)
    )
    if body is not ...:
        event["body"] = json.dumps(body)
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    response = handler(event, LambdaContext())
    text = response.get("body") or ""
    return Reply(response["statusCode"], json.loads(text) if text else None, response.get("headers") or {})


def all_at_once(requests: list[Callable[[], Reply]]) -> list[Reply]:
    """Run the requests in as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(requests))

    def run(request: Callable[[], Reply]) -> Reply:
        barrier.wait(timeout=30)
        return request()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests, timeout=120))


@pytest.fixture
def funded_member(moto_server) -> dict[str, Any]:
    """The sample program and member, with 1000 NQ points available (100.00 EUR, holding over)."""
    default_context().clock = FakeClock()  # 2026-12-10: the order below is 20 days old
    handler = lambda_container()
    assert invoke(handler, "api_put_program", ADMIN).status == 201
    assert invoke(handler, "api_enrol_member", SHOP).status == 201
    earned = invoke(handler, "api_earn_order", SHOP, body=order_body(order_id="SEED", amount="100.00"))
    assert earned.status == 201, earned.body
    assert earned.body["balances"]["nq"]["available"] == 1000
    return earned.body


def ledger(handler: Handler) -> list[dict[str, Any]]:
    """The whole ledger, oldest first."""
    entries: list[dict[str, Any]] = []
    query = {"limit": "20"}
    while True:
        page = invoke(handler, "api_get_ledger", SHOP, query=query)
        assert page.status == 200, page.body
        entries.extend(page.body["entries"])
        if not page.body["next_cursor"]:
            return entries[::-1]
        query = {"limit": "20", "cursor": page.body["next_cursor"]}


def test_fifty_concurrent_burns_spend_exactly_what_is_available(funded_member):
    handlers = [lambda_container() for _ in range(50)]

    def burn(n: int) -> Callable[[], Reply]:
        return lambda: invoke(
            handlers[n], "api_burn_points", SHOP, body={"burn_id": f"B-{n:02d}", "points": 100}
        )

    replies = all_at_once([burn(n) for n in range(50)])

    outcomes = Counter((reply.status, (reply.body or {}).get("code")) for reply in replies)
    assert outcomes == {(201, None): 10, (409, "insufficient_points"): 40}, outcomes
    spent = sorted(reply.body["burn_id"] for reply in replies if reply.status == 201)
    # every successful burn saw the one before it: balances after them are 900, 800, ..., 0
    after = sorted(reply.body["balances"]["nq"]["available"] for reply in replies if reply.status == 201)
    assert after == list(range(0, 1000, 100))

    main = handlers[0]
    view = invoke(main, "api_get_member", SHOP)
    assert view.body["balances"]["nq"] == {"available": 0, "pending": 0, "next_expiry": None}
    entries = ledger(main)
    assert_running_balances(entries)
    assert sorted(entry["reference"] for entry in entries if entry["kind"] == "burn") == spent
    assert [entry["kind"] for entry in entries] == ["earn"] + ["burn"] * 10
    stored, _ = default_context().members.load(SHOP.group_id, CARD, [])
    assert stored is not None
    assert all(lot.points > 0 for lot in stored.lots), stored.lots
    assert sum(lot.points for lot in stored.lots if lot.kind == "nq") == 0
    assert stored.version == 1 + 10  # enrolment (version 0), the earn, ten burns


def test_twenty_concurrent_replays_of_one_order_earn_once(moto_server):
    default_context().clock = FakeClock()
    setup = lambda_container()
    assert invoke(setup, "api_put_program", ADMIN).status == 201
    assert invoke(setup, "api_enrol_member", SHOP).status == 201
    handlers = [lambda_container() for _ in range(20)]
    body = order_body(order_id="WEB-RACE", amount="100.00")

    def earn(n: int) -> Callable[[], Reply]:
        return lambda: invoke(handlers[n], "api_earn_order", SHOP, body=body)

    replies = all_at_once([earn(n) for n in range(20)])

    assert {reply.status for reply in replies} == {201}, [
        reply.body for reply in replies if reply.status != 201
    ]
    assert all(reply.body == replies[0].body for reply in replies)
    assert replies[0].body["earned"]["nq"] == 1000
    entries = ledger(setup)
    assert_running_balances(entries)
    assert [(entry["kind"], entry["reference"]) for entry in entries] == [("earn", "WEB-RACE")]
    view = invoke(setup, "api_get_member", SHOP)
    assert view.body["balances"]["nq"]["available"] == 1000
