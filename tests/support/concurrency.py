"""Concurrent requests through the real API handlers, against moto's threaded server.

The in-process moto mock is not thread-safe, so concurrency tests start moto's threaded server
(the `moto_server` fixture of tests/integration/conftest.py) and point the clients at it. Each
thread plays one Lambda container (`tests.support.api.lambda_container`): its own copy of the
API module, all sharing the use cases' context and its client.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from loyalty_engine.access.models import Caller
from tests.support.api import Handler, Reply, call
from tests.support.aws import create_table, fresh_caches


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


@contextmanager
def threaded_moto() -> Iterator[str]:
    """A moto server with the table, its endpoint in AWS_ENDPOINT_URL while it runs."""
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
    path: dict[str, str] | None = None,
    body: Any = ...,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> Reply:
    """As tests.support.api.call, with the handler of one container."""
    return call(event_name, caller, path=path, body=body, headers=headers, query=query, handler=handler)


def all_at_once(requests: list[Callable[[], Reply]]) -> list[Reply]:
    """Run the requests in as many threads, released together by a barrier."""
    barrier = threading.Barrier(len(requests))

    def run(request: Callable[[], Reply]) -> Reply:
        barrier.wait(timeout=30)
        return request()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests, timeout=120))


def ledger(handler: Handler, caller: Caller) -> list[dict[str, Any]]:
    """The sample member's whole ledger, oldest first."""
    entries: list[dict[str, Any]] = []
    query = {"limit": "20"}
    while True:
        page = invoke(handler, "api_get_ledger", caller, query=query)
        assert page.status == 200, page.body
        entries.extend(page.body["entries"])
        if not page.body["next_cursor"]:
            return entries[::-1]
        query = {"limit": "20", "cursor": page.body["next_cursor"]}
